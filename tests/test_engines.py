"""The torch-sim engine (bench.engines) on EMT through a torch-sim wrapper of its ASE calculator:
its FIRE with the Frechet filter follows ASE's step for step, each structure's outcome is its
own, the engine is in the digest only when it is not ase, and a run gives one record per
material that agrees with the ase engine's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT
from ase.spacegroup.symmetrize import check_symmetry
from ase.stress import voigt_6_to_full_3x3_stress

pytest.importorskip("torch_sim")

from bench.engines import choose_engine
from bench.engines.replay import Replayed, replay_model, structure_key
from bench.engines.tsmodel import ADAPTERS, Budget, Float64Driver
from bench.engines.tsrelax import relax_batch
from bench.engines.tssingle import evaluate_batch
from bench.errors import ConfigurationError, DivergedError, ModelError, NotConvergedError
from bench.models import load_model
from bench.physics.elasticity import ElasticSettings
from bench.physics.relax import relax
from bench.settings import PhononSettings, RelaxSettings, settings_dict, settings_digest
from tests.conftest import BrokenCalculator

CPU = Budget("n_atoms", 512.0)


class AseModel(torch.nn.Module):
    """A torch-sim model of an ASE calculator, system by system (float64, CPU); a system
    holding an element of ``broken`` gets ``broken[element]``'s results instead."""

    device = torch.device("cpu")
    dtype = torch.float64
    memory_scales_with = "n_atoms"

    def __init__(self, calc, broken: dict[str, object] | None = None) -> None:
        super().__init__()
        self.calc, self.broken = calc, broken or {}

    def forward(self, state) -> dict[str, torch.Tensor]:
        cells = state.row_vector_cell.detach().numpy()
        index, z = state.system_idx.numpy(), state.atomic_numbers.numpy()
        positions = state.positions.detach().numpy()
        energy, forces, stress = [], [], []
        for b in range(state.n_systems):
            mine = index == b
            atoms = Atoms(numbers=z[mine], positions=positions[mine], cell=cells[b], pbc=True)
            calc = next((c for e, c in self.broken.items() if e in atoms.symbols), self.calc)
            if isinstance(calc, Exception):
                raise calc
            atoms.calc = calc
            energy.append(atoms.get_potential_energy())
            forces.append(atoms.get_forces())
            stress.append(voigt_6_to_full_3x3_stress(atoms.get_stress()))
        return {
            "energy": torch.tensor(energy),
            "forces": torch.tensor(np.concatenate(forces)),
            "stress": torch.tensor(np.array(stress)),
        }


def _structures() -> list[Atoms]:
    """Rattled fcc Cu, a rattled Au supercell, hcp Cu, bcc Ni (each a few tens of steps)."""
    cu = bulk("Cu", "fcc", a=3.64, cubic=True)
    cu.rattle(0.02, seed=1)
    au = bulk("Au", "fcc", a=4.0) * (2, 1, 1)
    au.rattle(0.03, seed=2)
    return [cu, au, bulk("Cu", "hcp", a=2.55, c=4.1), bulk("Ni", "bcc", a=2.8)]


@pytest.mark.parametrize("fix_symmetry", [False, True])
def test_batched_fire_follows_ase_fire_step_for_step(fix_symmetry):
    settings = RelaxSettings(fix_symmetry=fix_symmetry)
    structures = [_structures()[i] for i in (0, 2)]
    outcomes = relax_batch(structures, Float64Driver(AseModel(EMT())), settings, CPU)
    for atoms, outcome in zip(structures, outcomes, strict=True):
        ase, ts = relax(atoms, EMT(), settings), outcome.result
        assert abs(ts.steps - ase.steps) <= 1 and ts.passes == ase.passes == 1
        assert ts.atoms.get_volume() == pytest.approx(ase.atoms.get_volume(), rel=2e-4)
        assert ts.energy_eV == pytest.approx(ase.energy_eV, abs=1e-6)
        assert ts.fmax_eV_per_A < settings.fmax_eV_per_A
        assert outcome.seconds > 0 and outcome.calls == ts.steps + 1
    assert check_symmetry(outcomes[1].result.atoms, 1e-5).number == 194


class SkewedEMT(EMT):
    """EMT plus a constant 0.01 eV/Å push on atom 0 along x: a force that breaks the
    structure's symmetry and never relaxes away."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results["forces"][0, 0] += 0.01


def test_fix_symmetry_symmetrises_forces_as_ase_does():
    """hcp Cu under a symmetry-breaking force: FixSymmetry projects it out, so the relaxation
    converges and keeps P6_3/mmc (194), with the ASE engine and the batched one alike."""
    atoms = bulk("Cu", "hcp", a=2.55, c=4.1)
    atoms.positions[0] += [0.0, 0.0, 1e-3]  # within symprec 0.01: refined back
    settings = RelaxSettings(steps_per_pass=100, max_passes=1)
    ase = relax(atoms, SkewedEMT(), settings)
    ts = relax_batch([atoms], Float64Driver(AseModel(SkewedEMT())), settings, CPU)[0].result
    for result in (ase, ts):
        assert check_symmetry(result.atoms, 1e-6).number == 194
    assert ts.steps == ase.steps


def test_a_diverging_or_raising_structure_fails_alone_and_the_others_are_unchanged():
    broken = {"Au": BrokenCalculator("explode"), "Ni": RuntimeError("model cannot take Ni")}
    driver = Float64Driver(AseModel(EMT(), broken))
    outcomes = relax_batch(_structures(), driver, RelaxSettings(), CPU)
    assert isinstance(outcomes[1].result, DivergedError)
    assert isinstance(outcomes[3].result, ModelError)
    assert "RuntimeError: model cannot take Ni" in str(outcomes[3].result)
    alone = relax_batch(_structures()[:1], Float64Driver(AseModel(EMT())), RelaxSettings(), CPU)
    assert outcomes[0].result.steps == alone[0].result.steps
    assert outcomes[0].result.energy_eV == pytest.approx(alone[0].result.energy_eV, abs=1e-12)
    assert outcomes[2].result.fmax_eV_per_A < RelaxSettings().fmax_eV_per_A


def test_passes_restart_and_the_protocol_rejects_what_did_not_converge():
    settings = RelaxSettings(steps_per_pass=4, max_passes=3)
    outcome = relax_batch(_structures()[:1], Float64Driver(AseModel(EMT())), settings, CPU)[0]
    assert isinstance(outcome.result, NotConvergedError)
    assert "after 12 steps in 3 passes" in str(outcome.result)
    with pytest.raises(NotConvergedError, match="after 12 steps in 3 passes"):
        relax(_structures()[0], EMT(), settings)


def test_a_small_budget_relaxes_one_at_a_time_with_the_same_results():
    driver = Float64Driver(AseModel(EMT()))
    structures = [_structures()[i] for i in (0, 3)]
    one = relax_batch(structures, driver, RelaxSettings(), Budget("n_atoms", 1.0))
    many = relax_batch(structures, driver, RelaxSettings(), CPU)
    for a, b in zip(one, many, strict=True):
        assert a.result.steps == b.result.steps
        assert np.allclose(a.result.atoms.positions, b.result.atoms.positions, atol=1e-9)


def test_single_points_equal_the_calculator_and_a_raising_one_is_its_own():
    driver = Float64Driver(AseModel(EMT(), {"Ni": RuntimeError("no Ni")}))
    structures = _structures()
    out = evaluate_batch(structures, driver, CPU)
    assert isinstance(out[3].result, ModelError)  # as ModelClock words it for the ase engine
    assert str(out[3].result) == "the model raised RuntimeError: no Ni"
    for atoms, outcome in zip(structures[:3], out[:3], strict=True):
        atoms = atoms.copy()
        atoms.calc = EMT()
        assert np.allclose(outcome.result["forces"], atoms.get_forces(), atol=1e-10)
        stress = voigt_6_to_full_3x3_stress(atoms.get_stress())
        assert np.allclose(outcome.result["stress"], stress, atol=1e-12)


def test_replay_serves_the_engines_results_and_computes_the_rest():
    model = load_model("emt")
    structures = _structures()[:3]
    replayed = Replayed()
    replayed.singles[structure_key(structures[0])] = {
        "energy": 1.0,
        "forces": np.ones((len(structures[0]), 3)),
        "stress": np.zeros((3, 3)),
    }
    failure = DivergedError("engine's verdict")
    replayed.relaxations[structure_key(structures[1])] = failure
    replay = replay_model(model, replayed)
    forces = replay.forces(structures[:2])
    assert np.all(forces[0] == 1.0) and not np.allclose(forces[1], 1.0)
    assert replayed.hits == 1 and replayed.misses >= 1
    with pytest.raises(DivergedError, match="engine's verdict"):
        relax(structures[1], replay.calculator, RelaxSettings())
    misses = replayed.misses  # a single point that failed in the engine fails again, uncomputed
    replayed.singles[structure_key(structures[2])] = ModelError("engine's failure")
    with pytest.raises(ModelError, match="engine's failure"):
        replay.forces(structures[1:3])
    atoms = structures[2].copy()
    atoms.calc = replay.calculator
    with pytest.raises(ModelError, match="engine's failure"):
        atoms.get_stress()
    assert replayed.misses == misses and replayed.hits == 3
    nickel = _structures()[3]  # an atom at the origin
    flipped = nickel.copy()
    flipped.positions[0] = [-0.0, -0.0, -0.0]  # -0 and 0 are one key; 1e-3 Å is another
    assert structure_key(flipped) == structure_key(nickel)
    flipped.positions[0, 0] += 1e-3
    assert structure_key(flipped) != structure_key(nickel)


def test_the_engine_is_in_the_digest_only_when_it_is_not_ase():
    for settings in (PhononSettings(), ElasticSettings()):
        assert "engine" not in settings_dict(settings)
        other = dataclasses.replace(settings, engine="torch-sim")
        assert settings_dict(other)["engine"] == "torch-sim"
        assert settings_digest(other) != settings_digest(settings)
    with pytest.raises(ValueError, match="engine 'jax'"):
        PhononSettings(engine="jax")
    with pytest.raises(ValueError, match="FIRE only"):
        PhononSettings(engine="torch-sim", relax=RelaxSettings(optimizer="BFGS"))


def test_families_without_an_adapter_run_with_ase_in_one_line(capsys, monkeypatch):
    import bench.engines

    monkeypatch.setattr(bench.engines, "_SAID", set())
    assert choose_engine("torch-sim", "sevenn", "phonons") == "torch-sim"
    assert choose_engine(None, "sevenn", "phonons") == "ase"
    for family in ("chgnet", "emt"):
        assert choose_engine("torch-sim", family, "elasticity") == "ase"
        assert choose_engine("torch-sim", family, "phonons") == "ase"  # said once per process
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{family} family" in err and "ase engine" in err
    with pytest.raises(ConfigurationError, match="task equigrad runs with the ase engine"):
        choose_engine("torch-sim", "sevenn", "equigrad")
    assert "emt" not in ADAPTERS


@pytest.mark.slow  # ~20 s on a busy 2-core machine (torch-sim's import, two runs)
def test_a_run_gives_every_material_its_record_as_the_ase_engine_does(
    shared_data, tmp_path, monkeypatch
):
    """EMT through the engine (an adapter for this test): AuCu agrees with the ase engine's
    run, GaAs (no EMT parameters) is its own failure, as with ase, and each record says so."""
    from bench.engines import tsmodel
    from bench.report.loading import load_records
    from bench.run.runner import RunConfig, run

    monkeypatch.setitem(tsmodel.ADAPTERS, "emt", lambda model: AseModel(model.calculator))
    out = {}
    for engine in ("ase", "torch-sim"):
        config = RunConfig(
            model="emt",
            task="elasticity",
            subset="elastic-tests",
            materials=("mp-522", "mp-2534"),
            engine=engine,
            data_dir=str(shared_data),
            out_dir=str(tmp_path / engine),
            progress=False,
        )
        summary = run(config)
        assert summary.counts == {"ok": 1, "failed": 1}
        out[engine] = load_records([tmp_path / engine])[0].set_index("material_id")
    ase, ts = out["ase"], out["torch-sim"]
    assert ts.loc["mp-2534", "error_type"] == ase.loc["mp-2534", "error_type"]
    for material in ("mp-522",):
        for prop in ("K_GPa", "G_GPa"):
            assert ts.loc[material, f"model.{prop}"] == pytest.approx(
                ase.loc[material, f"model.{prop}"], abs=0.05
            )
        assert '"name": "torch-sim"' in ts.loc[material, "details_json"]
        assert ts.loc[material, "time.cpu"] > 0 and ts.loc[material, "time.model_calls"] >= 1
    assert ts["settings_digest"].iloc[0] != ase["settings_digest"].iloc[0]

    from bench.speed.engines import compare_engines  # bench speed engines, on these stores

    rows, summary = compare_engines(
        "emt", "elasticity", "elastic-tests", tmp_path / "ase", tmp_path / "torch-sim"
    )
    assert list(rows["material_id"]) == ["mp-522", "mp-2534"]
    assert [s["property"] for s in summary] == ["K_GPa", "G_GPa"]
    for row in summary:
        assert row["n_materials"] == 2 and row["n_both_ok"] == 1 and row["max_abs_diff"] < 0.05
        assert row["cpu_s_torch_sim"] > 0 and np.isnan(row["cpu_s_ase"])
