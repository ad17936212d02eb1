"""Model registry: names, aliases, availability, loading in-process."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from bench.errors import ModelUnavailableError, UnknownModelError
from bench.models import list_models, load_model, model_rows, resolve
from bench.models.checkpoints import resolve_checkpoint

TABLE2 = Path(__file__).resolve().parents[2] / "shared" / "reference" / "orb-v3-table2.csv"
SEED_MODELS = [
    "MACE-MPA-0",
    "eSEN-30M-OAM",
    "MACE-OMAT-0",
    "SevenNet-MF-ompa",
    "orb-v3-conservative-inf-omat",
    "orb-v3-conservative-20-omat",
    "orb-v3-direct-inf-omat",
    "orb-v3-direct-20-omat",
]


def test_every_table2_model_is_registered():
    names = SEED_MODELS
    if TABLE2.is_file():
        with open(TABLE2) as handle:
            names = [row["model"] for row in csv.DictReader(handle)]
    registered = {spec.table2 for spec in list_models()}
    assert set(names) <= registered
    assert len(names) == 8


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("orb-v3-direct-20", "orb-v3-direct-20-omat"),
        ("ORB-V3-DIRECT-20-OMAT", "orb-v3-direct-20-omat"),
        ("chgnet", "chgnet-0.3.0"),
        ("7net-0", "7net-0"),
        ("MACE-MPA-0", "mace-mpa-0"),
        ("eSEN-30M-OAM", "esen-30m-oam"),
    ],
)
def test_aliases_resolve(name, key):
    assert resolve(name).key == key


def test_unknown_model_lists_close_matches():
    with pytest.raises(UnknownModelError, match=r"did you mean.*orb-v3-direct-20-omat"):
        resolve("orb-v3-direkt-20")


def test_rows_say_why_a_model_cannot_run(monkeypatch):
    real = importlib.util.find_spec

    def without_orb(name, package=None):  # as if orb-models were not installed
        return None if name.partition(".")[0] == "orb_models" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", without_orb)
    rows = {row["key"]: row for row in model_rows()}
    assert rows["emt"]["runs here"] == "yes"
    assert rows["orb-v3-direct-20-omat"]["runs here"] == "no"
    assert "pip install -e '.[orb]'" in rows["orb-v3-direct-20-omat"]["weights / why not"]
    if importlib.util.find_spec("chgnet") is not None:
        assert rows["chgnet-0.3.0"]["weights / why not"].startswith("packaged (")
    if importlib.util.find_spec("sevenn") is not None:
        # not shipped: runs here only when sevenn can download it; else says where to put it
        row = rows["sevennet-mf-ompa"]
        weights = row["weights / why not"]
        assert weights.startswith(("will download", "missing", "cached"))
        assert row["runs here"] == ("no" if weights.startswith("missing") else "yes")
        if weights.startswith("missing"):
            assert "checkpoint_sevennet_mf_ompa.pth" in weights and "github.com" in weights


def test_dtype_policy():
    orb = resolve("orb-v3-direct-20")
    assert orb.dtype_for(None, second_order=False) == "float32-high"
    assert orb.dtype_for(None, second_order=True) == "float32-highest"  # orb-models' advice
    assert orb.dtype_for("float64", second_order=True) == "float64"
    assert resolve("mace-mpa-0").dtype_for(None, second_order=True) == "float64"
    with pytest.raises(ModelUnavailableError, match="supports dtype"):
        resolve("chgnet").dtype_for("float64", second_order=True)


def test_missing_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(ModelUnavailableError, match="checkpoint file not found"):
        resolve_checkpoint("x.pt", tmp_path / "nope.pt")


def test_bench_checkpoints_dir_is_searched(tmp_path, monkeypatch):
    (tmp_path / "x.pt").write_bytes(b"weights")
    monkeypatch.setenv("BENCH_CHECKPOINTS", str(tmp_path))
    assert resolve_checkpoint("x.pt") == tmp_path / "x.pt"
    assert resolve_checkpoint("y.pt") is None


def test_emt_loads_and_computes():
    model = load_model("emt")
    atoms = bulk("Cu", "fcc", a=3.7)
    atoms.calc = model.calculator
    assert atoms.get_potential_energy() > 0  # expanded Cu is above the EMT minimum
    np.testing.assert_allclose(atoms.get_forces(), 0.0, atol=1e-10)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("chgnet") is None, reason="chgnet not installed")
def test_chgnet_batch_equals_one_by_one():
    model = load_model("chgnet", device="cpu")
    assert model.dtype == "float32"
    assert model.checkpoint_sha256 is not None and len(model.checkpoint_sha256) == 64
    cells = []
    for seed in range(3):
        atoms = bulk("NaCl", "rocksalt", a=5.64) * (2, 1, 1)
        atoms.rattle(0.02, seed=seed)
        cells.append(atoms)
    batched = model.forces(cells, batch=True)
    single = model.forces(cells, batch=False)
    chunked = model.forces(cells, batch=True, max_batch_atoms=5)  # batches of one structure
    for a, b, c in zip(batched, single, chunked, strict=True):
        np.testing.assert_allclose(c, b, atol=2e-5)
        assert a.shape == (4, 3)
        np.testing.assert_allclose(a, b, atol=2e-5)
    assert np.abs(single[0]).max() > 1e-3  # rattled: non-zero forces


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("sevenn") is None, reason="sevenn not installed")
def test_sevennet_packaged_models_load():
    for name in ("7net-0", "7net-mf-0"):
        model = load_model(name, device="cpu")
        atoms = bulk("Si", "diamond", a=5.43)
        atoms.rattle(0.02, seed=0)
        atoms.calc = model.calculator
        forces = atoms.get_forces()
        assert np.isfinite(forces).all() and abs(forces.sum(axis=0)).max() < 1e-4
        assert -6.0 < atoms.get_potential_energy() / len(atoms) < -4.5  # Si: ~ -5.4 eV/atom


def _rattled_cells() -> list:
    """Four NaCl cells of 8, 16, 32 and 64 atoms, rattled differently."""
    cells = []
    for seed, rep in enumerate([(2, 1, 1), (2, 2, 1), (1, 1, 1), (2, 2, 2)]):
        atoms = bulk("NaCl", "rocksalt", a=5.64) * rep
        atoms.rattle(0.05, seed=seed)
        cells.append(atoms)
    return cells


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("sevenn") is None, reason="sevenn not installed")
@pytest.mark.parametrize("name", ["7net-0", "7net-mf-0"])
def test_sevennet_batch_equals_one_by_one(name):
    model = load_model(name, device="cpu")
    assert model.batch_forces is not None
    cells = _rattled_cells()
    batched = model.forces(cells, batch=True)
    single = model.forces(cells, batch=False)
    alone = model.forces(cells, batch=True, max_batch_atoms=5)  # batches of one structure
    for a, b, c, atoms in zip(batched, single, alone, cells, strict=True):
        assert a.shape == (len(atoms), 3)
        np.testing.assert_allclose(a, b, atol=1e-5)  # float32
        np.testing.assert_allclose(c, b, atol=1e-5)
    assert np.abs(single[3]).max() > 1e-2
    # the model is back in single-structure mode: the calculator still agrees with itself
    again = model.forces(cells[:1], batch=False)[0]
    np.testing.assert_allclose(again, single[0], atol=1e-6)


def test_failed_batch_falls_back_to_one_by_one():
    model = load_model("emt")

    def broken(structures):
        raise RuntimeError("CUDA out of memory (simulated)")

    model.batch_forces = broken
    cells = [bulk("Cu", "fcc", a=3.6) * (2, 1, 1) for _ in range(3)]
    for i, atoms in enumerate(cells):
        atoms.rattle(0.05, seed=i)
    with pytest.warns(RuntimeWarning, match="one by one"):
        forces = model.forces(cells, batch=True)
    expected = model.forces(cells, batch=False)
    for a, b in zip(forces, expected, strict=True):
        np.testing.assert_allclose(a, b)
    assert np.abs(expected[0]).max() > 1e-3


def test_batches_are_capped_by_atom_count():
    from bench.batching import chunk_by_atoms

    cells = [bulk("Cu", "fcc", a=3.6) * (n, 1, 1) for n in (3, 3, 5, 1, 8, 2)]
    chunks = chunk_by_atoms(cells, max_atoms=6)
    assert chunks == [[0, 1], [2, 3], [4], [5]]  # the 8-atom cell alone, over the cap
    assert sorted(i for c in chunks for i in c) == list(range(len(cells)))


def test_failed_upstream_download_is_one_line_naming_file_and_place(monkeypatch, tmp_path):
    pretrained = pytest.importorskip("orb_models.forcefield.pretrained")

    def offline(**kwargs):
        assert "weights_path" not in kwargs  # upstream default URL, not a None path
        raise ConnectionError("Max retries exceeded (offline)\nlong trace")

    monkeypatch.setitem(pretrained.ORB_PRETRAINED_MODELS, "orb-v3-direct-20-omat", offline)
    monkeypatch.setenv("BENCH_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.cache/orb copy
    with pytest.raises(ModelUnavailableError) as err:
        load_model("orb-v3-direct-20")
    message = str(err.value)
    assert "\n" not in message
    assert "orb-v3-direct-20-omat-20250404.ckpt" in message and str(tmp_path) in message
    assert "ConnectionError" in message and "--checkpoint" in message


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("chgnet") is None, reason="chgnet not installed")
def test_chgnet_forces_match_chgnets_own_on_skewed_cells():
    """The adapter's forces (energy gradient w.r.t. fractional coordinates, mapped to
    Cartesian) are CHGNet's own ``task="ef"`` forces, on cells whose lattice is not diagonal."""
    from pymatgen.io.ase import AseAtomsAdaptor

    model = load_model("chgnet", device="cpu")
    cells = [bulk("Ti", "hcp", a=2.95) * (2, 2, 2), bulk("Si", "diamond", a=5.43) * (1, 2, 3)]
    for seed, atoms in enumerate(cells):
        atoms.rattle(0.05, seed=seed)
    ours = model.forces(cells, batch=True)
    chgnet = model.calculator.model
    theirs = chgnet.predict_structure([AseAtomsAdaptor.get_structure(a) for a in cells], task="ef")
    for a, b in zip(ours, theirs, strict=True):
        assert np.abs(b["f"]).max() > 0.1  # forces large enough to tell a wrong mapping
        np.testing.assert_allclose(a, b["f"], atol=2e-5)
