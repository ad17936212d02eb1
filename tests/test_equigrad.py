"""Equigrad (Δrot = ∂E(rR, hR)/∂G at G = 0): zero for invariant models (EMT, CHGNet), the
closed-form value for a deliberately non-invariant energy by finite differences and autograd,
autograd against finite differences and orb-models' own rotational gradient on random-weight
orb-v3 models; the task, CLI and reporter on it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.neighborlist import neighbor_list
from ase.stress import voigt_6_to_full_3x3_stress

from bench.cli import main
from bench.commands.output import subsets_for
from bench.errors import ConfigurationError
from bench.models import DifferentiableEnergy, LoadedModel, load_model
from bench.overrides import apply_overrides
from bench.physics.equigrad import (
    EquigradSettings,
    delta_rot_autograd,
    delta_rot_fd,
    delta_rot_from_gradients,
    run_equigrad,
)
from bench.physics.rotations import random_rotation
from bench.report.metrics import distribution_table, mae_table
from bench.report.selection import expected_digest
from bench.report.table import build_table
from bench.report.write import write_report
from bench.run.store import Store
from bench.settings import settings_digest

Q_FIELD_EV_PER_A = np.array([0.3, -0.2, 0.5])  # q·f of the non-invariant term, eV/Å


def _cu(rattle: float = 0.05) -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)  # 4 atoms
    atoms.rattle(rattle, seed=3)
    return atoms


def analytic_delta_rot(atoms: Atoms, qf: np.ndarray = Q_FIELD_EV_PER_A) -> np.ndarray:
    """Δrot of E = E_inv + Σ_i qf·r_i: with s = Σ_i r_i, Δrot_ab = s_a qf_b − s_b qf_a (eV).

    E_field(rR) = Σ_i r_i R qfᵀ, dR = dG − dGᵀ, so dE = Σ_ab s_a (dG_ab − dG_ba) qf_b.
    """
    s = atoms.positions.sum(axis=0)
    return np.outer(s, qf) - np.outer(qf, s)


class FieldEMT(EMT):
    """EMT plus a uniform field on every atom: E = E_EMT + Σ_i qf·r_i. Not invariant."""

    implemented_properties = ("energy", "free_energy", "forces")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        extra = float(self.atoms.positions.sum(axis=0) @ Q_FIELD_EV_PER_A)
        self.results["energy"] += extra
        self.results["free_energy"] += extra
        self.results["forces"] = self.results["forces"] - Q_FIELD_EV_PER_A


# ---- a torch test energy: Morse pairs (invariant) + the field term ------------------------
def _pairs(atoms: Atoms, cutoff: float = 4.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    i, j, shift = neighbor_list("ijS", atoms, cutoff)
    return torch.as_tensor(i), torch.as_tensor(j), torch.as_tensor(shift, dtype=torch.float64)


def _torch_energy(positions, cell, pairs, field: bool = True) -> torch.Tensor:
    i, j, shift = pairs
    r = (positions[j] - positions[i] + shift @ cell).norm(dim=1)
    morse = 0.5 * 0.35 * ((1 - torch.exp(-1.4 * (r - 2.55))) ** 2 - 1).sum()
    if not field:
        return morse
    return morse + positions.sum(dim=0) @ torch.as_tensor(Q_FIELD_EV_PER_A)


def torch_test_energy(atoms: Atoms, field: bool = True) -> DifferentiableEnergy:
    pairs = _pairs(atoms)
    return DifferentiableEnergy(
        positions=torch.as_tensor(atoms.positions.copy()),
        cell=torch.as_tensor(np.asarray(atoms.cell).copy()),
        energy=lambda r, h: _torch_energy(r, h, pairs, field),
    )


class TorchTestCalculator(Calculator):
    """The same torch energy as an ASE calculator (forces by autograd), for the FD path."""

    implemented_properties = ("energy", "free_energy", "forces")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        fn = torch_test_energy(self.atoms)
        positions = fn.positions.clone().requires_grad_(True)
        energy = fn.energy(positions, fn.cell)
        (grad,) = torch.autograd.grad(energy, positions)
        self.results = {
            "energy": float(energy.detach()),
            "free_energy": float(energy.detach()),
            "forces": -grad.numpy(),
        }


def _torch_model() -> LoadedModel:
    return LoadedModel(
        key="torch-test",
        calculator=TorchTestCalculator(),
        device="cpu",
        dtype="float64",
        energy_fn=torch_test_energy,
    )


# ---- invariant: EMT ------------------------------------------------------------------------
def test_emt_is_invariant_by_finite_differences():
    result = run_equigrad(_cu(), EMT(), EquigradSettings())
    values, details = result["values"], result["details"]
    assert details["method"] == "fd"
    assert details["fd"]["converged"]
    assert values["delta_rot_eV"] < 1e-9  # measured ~5e-13: float64 round-off over 0.02 rad
    assert values["delta_rot_eV"] == values["delta_rot_fd_eV"]
    assert values["rotation_dE_eV"] < 1e-10
    assert values["force_equiv_max_eV_per_A"] < 1e-10
    assert "delta_rot_autograd_eV" not in values


# ---- non-invariant, closed form ------------------------------------------------------------
def test_field_energy_gives_the_analytic_delta_rot_by_finite_differences():
    atoms = _cu()
    expected = analytic_delta_rot(atoms)
    assert np.linalg.norm(expected) > 1.0  # not a trivially small target
    result = run_equigrad(atoms, FieldEMT(), EquigradSettings())
    fd = np.array(result["details"]["fd"]["matrix_eV"])
    assert result["details"]["fd"]["converged"]
    # central differences of sin(t): relative truncation error step²/6 ≈ 7e-5 at 0.02 rad
    np.testing.assert_allclose(fd, expected, rtol=0, atol=1e-4 * np.linalg.norm(expected))
    assert result["values"]["delta_rot_eV"] == pytest.approx(np.linalg.norm(expected), rel=1e-4)
    # the cross-checks under the explicit random rotation R, also in closed form
    rot = random_rotation(0)
    s = atoms.positions.sum(axis=0)
    assert result["values"]["rotation_dE_eV"] == pytest.approx(
        abs((s @ rot - s) @ Q_FIELD_EV_PER_A), rel=1e-8
    )
    # F(rR) − F(r)R = −qf + qf R on every atom (EMT forces rotate exactly)
    force_error = np.linalg.norm(Q_FIELD_EV_PER_A @ rot - Q_FIELD_EV_PER_A)
    assert result["values"]["force_equiv_max_eV_per_A"] == pytest.approx(force_error, rel=1e-8)
    assert result["values"]["force_equiv_rms_eV_per_A"] == pytest.approx(force_error, rel=1e-8)


def test_step_ladder_halves_until_two_steps_agree():
    atoms = _cu()
    strict = delta_rot_fd(atoms, FieldEMT(), abs_tol_eV_per_atom=0.0, rel_tol=1e-5)
    loose = delta_rot_fd(atoms, FieldEMT(), abs_tol_eV_per_atom=0.0, rel_tol=1e-3)
    assert loose.converged and loose.step_rad == 0.02  # 0.04 vs 0.02 differ by ~2e-4 relative
    # the truncation error falls as step²: a tighter tolerance needs a smaller step
    assert strict.converged and strict.step_rad < loose.step_rad
    exact = np.linalg.norm(analytic_delta_rot(atoms))
    assert abs(np.linalg.norm(strict.matrix_eV) - exact) < abs(
        np.linalg.norm(loose.matrix_eV) - exact
    )
    ladder = [row["step_rad"] for row in strict.ladder]
    assert ladder == list(EquigradSettings().fd_steps_rad[: len(ladder)])


def test_autograd_path_matches_the_analytic_value_and_finite_differences():
    atoms = _cu()
    expected = analytic_delta_rot(atoms)
    result = run_equigrad(atoms, _torch_model(), EquigradSettings())
    details = result["details"]
    assert details["method"] == "autograd"
    np.testing.assert_allclose(details["autograd"]["matrix_eV"], expected, atol=1e-10)
    assert result["values"]["delta_rot_eV"] == result["values"]["delta_rot_autograd_eV"]
    assert details["autograd_minus_fd_eV"] < 1e-3 * np.linalg.norm(expected)
    # without the field the same torch model is invariant: autograd gives round-off zero
    assert np.abs(delta_rot_autograd(torch_test_energy(atoms, field=False))).max() < 1e-12
    # method=fd ignores the hook
    fd_only = run_equigrad(atoms, _torch_model(), EquigradSettings(method="fd"))
    assert fd_only["details"]["method"] == "fd" and "autograd" not in fd_only["details"]


def test_delta_rot_is_the_antisymmetric_part_of_the_general_virial():
    """The derivation: Δrot = M − Mᵀ, M = rᵀ ∂E/∂r + hᵀ ∂E/∂h, checked against ∂E/∂G."""
    atoms = _cu()
    fn = torch_test_energy(atoms)
    positions = fn.positions.clone().requires_grad_(True)
    cell = fn.cell.clone().requires_grad_(True)
    de_dr, de_dh = torch.autograd.grad(fn.energy(positions, cell), (positions, cell))
    from_gradients = delta_rot_from_gradients(
        atoms.positions, de_dr.numpy(), np.asarray(atoms.cell), de_dh.numpy()
    )
    np.testing.assert_allclose(from_gradients, delta_rot_autograd(fn), atol=1e-10)
    np.testing.assert_allclose(from_gradients, analytic_delta_rot(atoms), atol=1e-10)


def test_settings_are_hashed_validated_and_overridable():
    default = EquigradSettings()
    changed = apply_overrides(default, ["fd_steps_rad=[0.02, 0.01]", "rotation_seed=3"])
    assert changed.fd_steps_rad == (0.02, 0.01) and changed.rotation_seed == 3
    assert settings_digest(changed) != settings_digest(default)
    assert settings_digest(EquigradSettings()) == settings_digest(default)
    with pytest.raises(ValueError, match="decreasing"):
        EquigradSettings(fd_steps_rad=(0.01, 0.02))
    with pytest.raises(ValueError, match="method"):
        EquigradSettings(method="exact")


def test_method_autograd_without_a_hook_fails_the_material():
    with pytest.raises(Exception, match="no energy_fn"):
        run_equigrad(_cu(), EMT(), EquigradSettings(method="autograd"))


# ---- CHGNet: invariant by construction ---------------------------------------------------
@pytest.fixture(scope="module")
def chgnet() -> LoadedModel:
    torch.set_num_threads(1)
    return load_model("chgnet")


@pytest.mark.slow
def test_chgnet_is_invariant_on_a_real_cell(chgnet, shared_data):
    from bench.datasets import load_structure

    atoms, _, _ = load_structure("mdr-pbe", "mp-1000", shared_data)  # Ba4Te4, 8 atoms
    result = run_equigrad(atoms, chgnet, EquigradSettings())
    values, details = result["values"], result["details"]
    assert details["method"] == "autograd"
    # float32 model: measured ~4e-8 eV by autograd, FD at its float32 noise (≲1e-4 eV)
    assert values["delta_rot_autograd_eV"] < 1e-5
    assert values["delta_rot_fd_eV"] < 8 * 1e-4  # the FD tolerance: abs 1e-4 eV/atom × 8
    assert values["rotation_dE_eV_per_atom"] < 1e-5
    assert values["force_equiv_max_eV_per_A"] < 1e-4


@pytest.mark.slow
def test_chgnet_energy_fn_is_the_calculator_energy_and_follows_positions_and_cell(chgnet):
    """The hook must not be trivially invariant (e.g. detached): its gradients are CHGNet's
    forces and, symmetrised, its stress."""
    atoms = bulk("NaCl", "rocksalt", a=5.6)  # primitive, 2 atoms
    atoms.rattle(0.05, seed=1)
    atoms.set_cell(np.asarray(atoms.cell) * [1.0, 1.02, 0.97], scale_atoms=True)
    fn = chgnet.energy_fn(atoms)
    positions = fn.positions.clone().requires_grad_(True)
    cell = fn.cell.clone().requires_grad_(True)
    energy = fn.energy(positions, cell)
    de_dr, de_dh = torch.autograd.grad(energy, (positions, cell))
    probe = atoms.copy()
    probe.calc = chgnet.calculator
    assert float(energy) == pytest.approx(probe.get_potential_energy(), abs=1e-4)
    np.testing.assert_allclose(-de_dr.numpy(), probe.get_forces(), atol=1e-4)
    virial = (
        fn.positions.numpy().T @ de_dr.numpy() + fn.cell.numpy().T @ de_dh.numpy()
    )  # dE/dε = V σ for a symmetric strain
    stress = voigt_6_to_full_3x3_stress(probe.get_stress()) * probe.get_volume()
    assert np.abs(stress).max() > 0.05  # a strained cell: a test that can fail
    np.testing.assert_allclose(0.5 * (virial + virial.T), stress, atol=2e-3)


# ---- orb-v3 random weights ---------------------------------------------------------------
@pytest.fixture
def float64_default():
    """orb-models' calculator featurises in torch's default dtype; restore it afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _random_orb(kind: str):
    pytest.importorskip("orb_models", reason="orb-models not installed")
    from orb_models.forcefield import pretrained
    from orb_models.forcefield.atomic_system import SystemConfig

    from bench.models.orb import wrap

    torch.manual_seed(0)
    build = {
        "direct": pretrained.orb_v3_direct_architecture,
        "conservative": pretrained.orb_v3_conservative_architecture,
    }[kind]
    regressor = build(
        latent_dim=16,
        base_mlp_hidden_dim=32,
        base_mlp_depth=1,
        head_mlp_hidden_dim=16,
        num_message_passing_steps=2,
        system_config=SystemConfig(radius=6.0, max_num_neighbors=120),  # no neighbour ties
        device="cpu",
    )
    regressor = regressor.to(torch.float64).eval()
    return wrap(regressor, f"orb-v3-{kind}-random", device="cpu", dtype="float64")


def _nacl() -> Atoms:
    atoms = bulk("NaCl", "rocksalt", a=5.6, cubic=True)  # 8 atoms
    atoms.rattle(0.05, seed=1)
    return atoms


@pytest.mark.slow  # importing orb-models: ~20 s on a busy 2-core machine
def test_orb_direct_random_autograd_agrees_with_finite_differences(float64_default):
    model = _random_orb("direct")
    atoms = _nacl()
    fn = model.energy_fn(atoms)
    probe = atoms.copy()
    probe.calc = model.calculator
    assert float(fn.energy(fn.positions, fn.cell)) == pytest.approx(
        probe.get_potential_energy(), abs=1e-9
    )
    autograd = delta_rot_autograd(fn)
    fd = delta_rot_fd(atoms, model.calculator, abs_tol_eV_per_atom=0.0, rel_tol=1e-5)
    assert np.linalg.norm(autograd) > 1e-3  # random weights are far from invariant
    np.testing.assert_allclose(fd.matrix_eV, autograd, atol=1e-4 * np.linalg.norm(autograd))
    # the task pass: autograd primary, FD cross-check, direct forces not equivariant
    result = run_equigrad(atoms, model, EquigradSettings())
    assert result["details"]["method"] == "autograd"
    assert result["details"]["autograd_minus_fd_eV"] < 1e-2 * np.linalg.norm(autograd)
    assert result["values"]["force_equiv_max_eV_per_A"] > 1e-3


@pytest.mark.slow  # importing orb-models: ~20 s on a busy 2-core machine
def test_orb_conservative_random_autograd_is_orbs_own_rotational_grad(float64_default):
    model = _random_orb("conservative")
    atoms = _nacl()
    probe = atoms.copy()
    probe.calc = model.calculator
    probe.get_potential_energy()
    theirs = np.asarray(model.calculator.results["rotational_grad"]).reshape(3, 3)
    ours = delta_rot_autograd(model.energy_fn(atoms))
    assert np.linalg.norm(theirs) > 1e-3
    np.testing.assert_allclose(ours, theirs, atol=1e-10)


# ---- task, CLI, metrics, reporter --------------------------------------------------------
def test_cli_subsets_for_equigrad():
    assert subsets_for("equigrad", None) == [("equigrad", "mdr-smoke")]
    assert subsets_for("equigrad", ["elastic-smoke", "mdr-50"]) == [
        ("equigrad", "elastic-smoke"),
        ("equigrad", "mdr-50"),
    ]
    assert [t for t, _ in subsets_for("all", None)] == ["phonons", "elasticity"]
    with pytest.raises(ConfigurationError):
        subsets_for("phonons", ["elastic-smoke"])


def _equigrad_record(model: str, material_id: str, digest: str, value: float) -> dict:
    return {
        "model": model,
        "task": "equigrad",
        "dataset": "mdr-pbe",
        "material_id": material_id,
        "settings_digest": digest,
        "status": "ok",
        "values": {"delta_rot_eV": value, "delta_rot_eV_per_atom": value / 4},
        "ref": {},
        "details": {"method": "fd"},
        "timings_s": {"fd": 0.1},
        "wall_s": 0.2,
    }


def test_metrics_and_report_without_a_reference(tmp_path):
    from bench.datasets import resolve_subset

    _, ids = resolve_subset("mdr-50")
    digest = expected_digest("emt", "equigrad", "mdr-pbe")
    with Store(tmp_path / "runs") as store:
        run_id = store.start_run({"settings_digest": digest}, {})
        for k, material_id in enumerate(ids[:20]):
            store.write(_equigrad_record("emt", material_id, digest, float(k + 1)), run_id)
        store.write(_equigrad_record("emt", ids[0], "000000000000", 1e6), run_id)  # other digest
        records = store.records(task="equigrad", settings_digest=digest)
    assert mae_table(records, ("delta_rot_eV",))["delta_rot_eV"].isna().all()  # no reference
    dist = distribution_table(records, ("delta_rot_eV",)).iloc[0]
    assert dist["delta_rot_eV.median"] == pytest.approx(10.5)  # values 1..20
    assert dist["delta_rot_eV.p95"] == pytest.approx(19.05)  # linear interpolation
    assert dist["n_delta_rot_eV"] == 20

    without = build_table([tmp_path / "empty"], equigrad_subset=None)
    table = build_table([tmp_path / "runs"], equigrad_subset="mdr-50")
    pd.testing.assert_frame_equal(table.frame, without.frame)  # Table 2 untouched
    assert len(table.equigrad) == 20  # the other digest left out
    paths = {p.name: p for p in write_report(table, tmp_path / "results", "pytest")}
    assert {"table2.md", "equigrad.md", "equigrad.csv", "equigrad_hist.png"} <= set(paths)
    row = pd.read_csv(paths["equigrad.csv"]).iloc[0]
    assert row["model"] == "emt" and row["delta_rot_eV.median"] == pytest.approx(10.5)
    assert "| emt | 10.5 (19.1) |" in paths["equigrad.md"].read_text()


@pytest.mark.slow
def test_bench_run_equigrad_on_mdr_and_elastic_subsets(tmp_path, shared_data, capsys, monkeypatch):
    import bench.run.worker
    from bench.run.threads import set_threads

    # one torch thread: with other jobs on the cores, two threads made this test 10x slower
    monkeypatch.setattr(bench.run.worker, "set_threads", lambda threads: set_threads(1))
    out = tmp_path / "runs"
    common = ["run", "--task", "equigrad", "--model", "chgnet", "--out", str(out), "--quiet"]
    common += ["--data-dir", str(shared_data)]
    assert main([*common, "--materials", "mp-1000"]) == 0  # default subset: mdr-smoke
    assert main([*common, "--subset", "elastic-smoke", "--limit", "2"]) == 0
    printed = capsys.readouterr().out
    assert "median, p95, max (no reference)" in printed and "delta_rot_eV" in printed
    with Store(out) as store:
        records = store.records(task="equigrad")
    assert sorted(records["dataset"]) == [
        "mdr-pbe",
        "mp-binary-pbe-elasticity-2025.1",
        "mp-binary-pbe-elasticity-2025.1",
    ]
    assert (records["status"] == "ok").all()
    assert not [c for c in records.columns if c.startswith("ref.")]  # empty reference side
    assert (records["model.delta_rot_eV"] < 1e-5).all()  # CHGNet is invariant
    for details in records["details_json"]:
        details = json.loads(details)
        assert details["method"] == "autograd" and details["fd"]["converged"]
        assert details["source"]["sha256"]
    assert main(["summary", "--out", str(out), "--task", "equigrad"]) == 0
    assert "delta_rot_eV" in capsys.readouterr().out
    results = tmp_path / "results"
    argv = ["table", "--runs", str(out), "--out", str(results), "--data-dir", str(shared_data)]
    assert main(argv) == 0
    assert (results / "equigrad.md").read_text().count("| chgnet-0.3.0 |") == 1
    assert (results / "table2.md").exists()
