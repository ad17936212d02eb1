"""Reference data: loaders on the real files, subsets, checksums, bad files, offline errors.

The data come from ``../shared/data`` (or ``$BENCH_SHARED_DATA``) when it is there, else from
the package's embedded copy (the smoke subsets and the few files the tests read beyond them; see
the ``shared_data`` fixture in conftest.py): a test over "every material" covers the 50 MDR
materials and the full MatCalc files in the first case, the embedded ones in the second. No
test touches the network.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import importlib.util
import json
import lzma
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from phonopy.harmonic.dynmat_to_fc import get_commensurate_points

import bench.datasets.locate as locate
from bench.datasets import (
    DataChecksumError,
    DataNotFoundError,
    MalformedReferenceError,
    dataset_checksums,
    find_data_dir,
    get_dataset,
    list_datasets,
    load_elastic_reference,
    load_phonon_reference,
    resolve_subset,
    subsets,
)
from bench.datasets.locate import embedded_dir
from bench.datasets.matcalc import _read, load_entries, matcalc_file, structure_to_atoms
from bench.datasets.mdr import build_phonopy, read_yaml
from bench.datasets.registry import definitions_dir, natural_key, seeded_order
from bench.physics.supercells import min_length_supercell
from tests.conftest import SHARED_DATA as SHARED
from tests.conftest import _have_full_data

MDR = "mdr-pbe"
CV = "alexandria-binary-pbe-phonon-2025.1"
ELASTIC = "mp-binary-pbe-elasticity-2025.1"
F_CENTRING = [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
THZ_TO_K = 47.992  # MDR postprocess.py
PBESOL_YAML = "mdr/hyllios_utils/mp-1000.yaml.bz2"
FC_1000 = "mdr/benchmark_app/mp-1000/force_constants.yaml.xz"


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """An empty user cache, no $BENCH_DATA, no network: every download attempt fails."""

    def refuse(url, dest):
        raise OSError(f"offline test: {url}")

    monkeypatch.setattr(locate, "_download", refuse)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BENCH_DATA", raising=False)
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)


def _csv(shared: Path) -> dict[str, dict[str, str]]:
    with open(shared / "mdr" / "benchmark_app_300K.csv") as handle:
        return {row["mp_id"]: row for row in csv.DictReader(handle)}


def _matcalc_at_hand(name: str, data_dir: Path) -> tuple[Path, str]:
    """The MatCalc file the loaders read from ``data_dir`` (the full file, else the package's
    extract) and the sha256 recorded for it."""
    info = get_dataset(name)
    path, relpath = matcalc_file(name, data_dir)
    return path, info.sha256(relpath) if relpath == info.file else info.embedded["sha256"]


def _mdr_at_hand(data_dir: Path) -> list[str]:
    """The mdr-50 materials whose files ``data_dir`` holds (all 50, or the embedded 8)."""
    fifty = resolve_subset("mdr-50", data_dir)[1]
    return [i for i in fifty if (data_dir / "mdr" / "benchmark_app" / i).is_dir()]


def _published(tmp_path: Path, raw: dict | None = None, source: Path | None = None) -> Path:
    """Put a published-layout MDR file for mp-1000 under ``tmp_path`` (a data directory)."""
    dest = tmp_path / "data" / "mdr" / "pbe" / "mp-1000.yaml.bz2"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if raw is None:
        shutil.copy(source, dest)
    else:
        dest.write_bytes(bz2.compress(yaml.dump(raw, Dumper=yaml.CSafeDumper).encode()))
    return tmp_path / "data"


# ---- definitions and subsets ------------------------------------------------------------


def test_definitions_are_complete():
    names = {d.name for d in list_datasets()}
    assert names == {MDR, CV, ELASTIC, "mp-pbe-elasticity-2025.3"}
    for info in list_datasets():
        assert info.task in ("phonons", "elasticity")
        assert "CC BY 4.0" in info.licence and info.citation and info.upstream.startswith("https")
        for listing in info.subsets.values():
            assert listing is None or (definitions_dir() / listing).is_file()
    assert get_dataset(MDR).citation.endswith("doi:10.1038/s41524-025-01650-1")
    assert get_dataset(CV).protocol == "matcalc" and get_dataset(CV).basis == "cell"
    assert get_dataset(MDR).protocol == "mdr" and get_dataset(MDR).basis == "primcell"
    assert get_dataset(ELASTIC).protocol == "matcalc"
    assert get_dataset("mp-pbe-elasticity-2025.3").files == {
        "matcalc/mp-pbe-elasticity-2025.3.json.gz": None
    }
    assert get_dataset(MDR).urls("mdr/pbe/mp-1.yaml.bz2") == [
        "https://alexandria.icams.rub.de/data/phonon_benchmark/pbe/mp-1.yaml.bz2"
    ]
    assert get_dataset(MDR).urls(FC_1000) == []  # the re-save has no public download
    with pytest.raises(ValueError, match="did you mean mdr-pbe"):
        get_dataset("mdr-pbee")


def test_recorded_checksums_are_the_manifest(shared_data):
    with open(shared_data / "mdr" / "benchmark_app" / "MANIFEST.csv") as handle:
        manifest = {
            f"mdr/benchmark_app/{r['stored_file']}": r["stored_sha256"]
            for r in csv.DictReader(handle)
        }
    assert get_dataset(MDR).files == manifest and len(manifest) == 100
    for rel, sha in get_dataset(MDR).files.items():
        if (shared_data / rel).is_file():
            assert locate.sha256_of(shared_data / rel) == sha, rel
    assert len(_mdr_at_hand(shared_data)) in (8, 50)
    for name in (CV, ELASTIC):
        path, sha = _matcalc_at_hand(name, shared_data)
        assert locate.sha256_of(path) == sha


def test_subsets_resolve(shared_data):
    assert subsets()["mdr-smoke"] == MDR and subsets()["elastic-dev"] == ELASTIC
    counts = {
        "mdr-smoke": 8,
        "mdr-50": 50,
        "cv-binary-smoke": 8,
        "cv-binary-1170": 1170,
        "elastic-smoke": 20,
        "elastic-dev": 200,
        "elastic-full": 3953,
    }
    resolved = {name: resolve_subset(name, shared_data) for name in counts}
    assert {name: len(ids) for name, (_, ids) in resolved.items()} == counts
    assert resolved["cv-binary-1170"][0] == CV
    for small, full in (
        ("mdr-smoke", "mdr-50"),
        ("cv-binary-smoke", "cv-binary-1170"),
        ("elastic-smoke", "elastic-full"),
        ("elastic-dev", "elastic-full"),
    ):
        assert set(resolved[small][1]) <= set(resolved[full][1])
    assert resolve_subset("elastic-full", shared_data) == resolved["elastic-full"]  # stable
    assert resolved["mdr-smoke"][1][:2] == ["mp-111", "mp-1000"]  # cheapest first
    with pytest.raises(ValueError, match="did you mean mdr-smoke"):
        resolve_subset("mdr-smok")


def test_mdr_smoke_is_cheap_and_mixed(shared_data):
    table = _csv(shared_data)
    ids = resolve_subset("mdr-smoke", shared_data)[1]
    rows = [table[i] for i in ids]
    assert max(int(r["n_atoms_supercell"]) for r in rows) <= 135
    assert max(int(r["n_atoms_primitive"]) for r in rows) <= 22
    assert sorted(r["primitive_matrix_in_file"] for r in rows) == ["False"] * 4 + ["True"] * 4


def test_seeded_order_is_random_and_keeps_its_order_as_the_set_grows():
    ids = [f"mp-{i}" for i in range(1, 401)]
    order = seeded_order(ids)
    assert sorted(order) == sorted(ids) and order != sorted(ids, key=natural_key)
    assert order == seeded_order(list(reversed(ids)))  # the input order does not matter
    some = ids[::3]
    assert seeded_order(some) == [i for i in order if i in set(some)]  # stable as the set grows
    first = order[:200]  # a prefix is not biased towards low ids (mean 200.5 for all 400)
    assert 170 < np.mean([int(i.split("-")[1]) for i in first]) < 230


@pytest.mark.skipif(
    not _have_full_data(),
    reason="checks the committed full-set orders against MatCalc's full files, which are not "
    "packaged (../shared/data)",
)
def test_full_set_orders_are_the_seeded_permutations_they_document():
    """cv-binary-1170 and elastic-full as committed are the rules datasets/build_definitions.py
    writes (and their headers state): a seeded permutation of the MatCalc file's order."""
    spec = importlib.util.spec_from_file_location(
        "build", definitions_dir() / "build_definitions.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    cv_order = list(load_entries(CV, SHARED))
    rng = np.random.default_rng(build.CV_SAMPLE_SEED)
    assert resolve_subset("cv-binary-1170", SHARED)[1] == [
        cv_order[i] for i in rng.permutation(1170)
    ]
    el_order = list(load_entries(ELASTIC, SHARED))
    dev = sorted(random.Random(0).sample(el_order, 200))
    assert resolve_subset("elastic-dev", SHARED)[1] == dev
    assert resolve_subset("elastic-full", SHARED)[1] == build.full_order(dev, el_order)


def test_mdr_full_is_local_files_plus_upstream_listing(shared_data, tmp_path, monkeypatch):
    # offline: the local files. The package's embedded copy is not a data directory, so on a
    # bare clone its MDR files are copied into one
    data = shared_data
    if shared_data == embedded_dir():
        data = tmp_path / "data"
        shutil.copytree(shared_data / "mdr", data / "mdr")
    local = _mdr_at_hand(data)
    assert local
    assert sorted(resolve_subset("mdr-full", data)[1]) == sorted(local)
    html = '<a href="mp-1.yaml.bz2">mp-1.yaml.bz2</a> <a href="mp-1000.yaml.bz2">x</a>'

    def listing(url, dest):
        assert url == "https://alexandria.icams.rub.de/data/phonon_benchmark/pbe/"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(html)

    monkeypatch.setattr(locate, "_download", listing)
    ids = resolve_subset("mdr-full", data)[1]
    assert sorted(ids) == sorted({*local, "mp-1", "mp-1000"})
    assert ids == seeded_order(ids)  # a partial run of it is an unbiased sample
    assert (tmp_path / "cache" / "bench" / "data" / "mdr" / "pbe" / "index.html").is_file()
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other-cache"))
    with pytest.raises(DataNotFoundError, match="upstream listing"):
        resolve_subset("mdr-full", tmp_path / "empty")


# ---- MDR loaders ------------------------------------------------------------------------


def test_mdr_bate_pbe(shared_data):
    ref = load_phonon_reference(MDR, "mp-1000", shared_data)
    assert ref.supercell_matrix.dtype.kind == "i"
    np.testing.assert_array_equal(ref.supercell_matrix, np.diag([2, 2, 2]))
    np.testing.assert_allclose(ref.primitive_matrix, F_CENTRING)
    assert len(ref.unit_cell) == 8 and ref.unit_cell.get_chemical_formula() == "Ba4Te4"
    assert ref.unit_cell.pbc.all()
    assert ref.unit_cell.cell.lengths() == pytest.approx([7.0881242] * 3)  # PBE, not PBEsol
    assert ref.stored["temperatures_K"] == [0.0, 75.0, 150.0, 300.0, 600.0]
    assert ref.stored["heat_capacity_J_per_K_mol"][3] == pytest.approx(49.356048, abs=1e-6)
    assert ref.stored["free_energy_kJ_per_mol"][3] == pytest.approx(-16.668626, abs=1e-6)
    assert "omega_max_K" not in ref.stored  # not stored in the re-save layout
    assert len(ref.phonopy.primitive) == 2 and ref.phonopy.nac_params is None
    assert ref.phonopy.force_constants.shape == (2, 64, 3, 3)
    assert ref.source == FC_1000 and ref.sha256 == get_dataset(MDR).sha256(FC_1000)


def test_mdr_without_primitive_matrix(shared_data):
    ref = load_phonon_reference(MDR, "mp-10694", shared_data)  # ScF3, no primitive_matrix
    assert ref.primitive_matrix is None
    assert len(ref.phonopy.primitive) == len(ref.unit_cell) == 4
    np.testing.assert_array_equal(ref.supercell_matrix, np.diag([3, 3, 3]))


def test_mdr_smoke_matches_csv(shared_data):
    """Matrices, cell sizes and Cv(300 K) of the smoke materials as derived independently."""
    table = _csv(shared_data)
    for material_id in resolve_subset("mdr-smoke", shared_data)[1]:
        row, ref = table[material_id], load_phonon_reference(MDR, material_id, shared_data)
        assert len(ref.unit_cell) == int(row["n_atoms_unitcell"])
        assert len(ref.phonopy.primitive) == int(row["n_atoms_primitive"])
        assert len(ref.phonopy.supercell) == int(row["n_atoms_supercell"])
        assert ref.supercell_matrix.ravel().tolist() == [
            int(v) for v in row["supercell_matrix"].split()
        ]
        assert (ref.primitive_matrix is not None) == (row["primitive_matrix_in_file"] == "True")
        cv = ref.stored["heat_capacity_J_per_K_mol"][ref.stored["temperatures_K"].index(300.0)]
        assert cv == pytest.approx(float(row["heat_capacity_300K_J_per_K_mol"]), rel=1e-8)


def test_published_yaml_bz2(shared_data, tmp_path):
    """The published MDR layout (the PBEsol example, which stores phonon_freq)."""
    data_dir = _published(tmp_path, source=shared_data / PBESOL_YAML)
    ref = load_phonon_reference(MDR, "mp-1000", data_dir)
    assert ref.source == "mdr/pbe/mp-1000.yaml.bz2"
    assert ref.sha256 == locate.sha256_of(shared_data / PBESOL_YAML)
    np.testing.assert_array_equal(ref.supercell_matrix, np.diag([2, 2, 2]))
    np.testing.assert_allclose(ref.primitive_matrix, F_CENTRING)
    assert ref.stored["omega_max_K"] == pytest.approx(165.1808, abs=0.01)
    assert ref.stored["heat_capacity_J_per_K_mol"][3] == pytest.approx(49.303659, abs=1e-6)
    assert ref.stored["entropy_J_per_K_mol"][3] == pytest.approx(104.146416, abs=1e-6)
    # the stored force constants (full format in the file) give the stored phonon_freq back
    ph = ref.phonopy
    assert ph.force_constants.shape == (2, 64, 3, 3)
    ph.run_qpoints(get_commensurate_points(ref.supercell_matrix))
    assert ph.get_qpoints_dict()["frequencies"].max() * THZ_TO_K == pytest.approx(
        165.1808, abs=0.01
    )
    assert dataset_checksums(MDR, ["mp-1000"], data_dir) == {ref.source: ref.sha256}


def test_first_data_dir_holding_a_material_decides(shared_data, tmp_path, monkeypatch):
    """--data-dir before $BENCH_DATA; the first directory holding the material is read."""
    published = _published(tmp_path, source=shared_data / PBESOL_YAML)
    monkeypatch.setenv("BENCH_DATA", str(published))
    assert load_phonon_reference(MDR, "mp-1000").source == "mdr/pbe/mp-1000.yaml.bz2"
    assert load_phonon_reference(MDR, "mp-1000", shared_data).source == FC_1000
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    assert load_phonon_reference(MDR, "mp-1000", published).source.endswith(".yaml.bz2")


# ---- MatCalc files ----------------------------------------------------------------------


def test_matcalc_cv_entry(shared_data):
    ref = load_phonon_reference(CV, "mp-2172", shared_data)
    assert ref.stored == {"temperatures_K": [300.0], "heat_capacity_J_per_K_mol": [44.36334531]}
    assert ref.phonopy is None and ref.primitive_matrix is None
    assert len(ref.unit_cell) == 2 and ref.unit_cell.pbc.all()
    assert ref.supercell_matrix is None  # the protocol builds it, from the relaxed cell
    info = get_dataset(CV)
    expected = info.sha256(ref.source) or info.embedded["sha256"]  # full file or extract
    assert ref.sha256 == expected


def test_supercell_rule_is_matcalcs(shared_data):
    """Our rule equals MatCalc 0.7.0 PhononCalc's expression on pymatgen's lattice.abc for
    every entry, including the thin 1x1x1 supercells of long oblique cells."""
    from pymatgen.core import Structure

    with gzip.open(_matcalc_at_hand(CV, shared_data)[0], "rt") as handle:
        entries = json.load(handle)  # all 1,170, or the embedded smoke and test entries
    for entry in entries:
        structure = Structure.from_dict(entry["structure"])
        expected = np.diag(np.ceil(20.0 / np.array(structure.lattice.abc)).astype(int))
        ours = min_length_supercell(structure_to_atoms(entry["structure"]), 20.0)
        np.testing.assert_array_equal(ours, expected, err_msg=entry["mp_id"])
    thin = load_phonon_reference(CV, "mp-640058", shared_data)  # PbI2, |a_i| = 22.7 Å
    np.testing.assert_array_equal(min_length_supercell(thin.unit_cell, 20.0), np.eye(3, dtype=int))
    cv = load_phonon_reference(CV, "mp-1105", shared_data)
    np.testing.assert_array_equal(min_length_supercell(cv.unit_cell, 20.0), np.diag([5, 5, 5]))


def test_matcalc_elastic_entries(shared_data):
    for material_id, formula, k, g in (
        ("mp-2534", "AsGa", 60.742, 40.715),
        ("mp-829", "AlPd", 155.221, 52.682),
        ("mp-10903", "AlPt", 184.169, 46.699),
    ):
        ref = load_elastic_reference(ELASTIC, material_id, shared_data)
        assert ref.structure.get_chemical_formula() == formula and ref.structure.pbc.all()
        assert (ref.bulk_modulus_GPa, ref.shear_modulus_GPa) == (k, g)
        info = get_dataset(ELASTIC)
        assert ref.source in (info.file, info.embedded["file"])  # the full file or the extract
    # an unknown id: not in the full file; not in the extract, which says the full file is needed
    missing = (MalformedReferenceError, "not in")
    if ref.source == info.embedded["file"]:
        missing = (DataNotFoundError, "covers only")
    with pytest.raises(missing[0], match=missing[1]):
        load_elastic_reference(ELASTIC, "mp-0", shared_data)
    with pytest.raises(ValueError, match="not a phonon data set"):
        load_phonon_reference(ELASTIC, "mp-2534", shared_data)


def test_matcalc_elastic_entries_of_the_loader_tests(shared_data):
    for material_id, formula, k, g in (
        ("mp-1265", "MgO", 151.45, 118.82),
        ("mp-22862", "ClNa", 23.77, 14.298),
    ):
        ref = load_elastic_reference(ELASTIC, material_id, shared_data)
        assert ref.structure.get_chemical_formula() == formula
        assert (ref.bulk_modulus_GPa, ref.shear_modulus_GPa) == (k, g)
        info = get_dataset(ELASTIC)
        expected = info.file if (shared_data / info.file).is_file() else info.embedded["file"]
        assert ref.source == expected


# ---- bad files, checksums, offline ------------------------------------------------------


def test_checksum_mismatch(shared_data, tmp_path):
    """A file whose bytes are not the recorded ones: one flipped byte of an MDR file, and any
    other file at the MatCalc file's place (here the package's smaller extract)."""
    cv_source = embedded_dir() / get_dataset(CV).embedded["file"]
    for rel, source, material_id, dataset in (
        (FC_1000, shared_data / FC_1000, "mp-1000", MDR),
        (f"matcalc/{CV}.json.gz", cv_source, "mp-1105", CV),
    ):
        dest = tmp_path / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = bytearray(source.read_bytes())
        data[-10] ^= 0xFF
        dest.write_bytes(bytes(data))
        with pytest.raises(DataChecksumError, match="does not match"):
            load_phonon_reference(dataset, material_id, tmp_path)


def test_truncated_and_malformed_files(shared_data, tmp_path):
    """Corrupt, truncated or incomplete files: MalformedReferenceError naming the file."""
    cut_xz = tmp_path / "force_constants.yaml.xz"
    cut_xz.write_bytes((shared_data / FC_1000).read_bytes()[:1500])
    with pytest.raises(MalformedReferenceError, match=r"force_constants\.yaml\.xz"):
        read_yaml(cut_xz)
    text = lzma.decompress((shared_data / FC_1000).read_bytes())
    cut_yaml = tmp_path / "cut.yaml.xz"
    cut_yaml.write_bytes(lzma.compress(text[: len(text) // 3]))
    with pytest.raises(MalformedReferenceError, match=r"cut\.yaml\.xz"):
        build_phonopy(read_yaml(cut_yaml), cut_yaml)
    gz = tmp_path / "cut.json.gz"
    gz.write_bytes((embedded_dir() / get_dataset(ELASTIC).embedded["file"]).read_bytes()[:2000])
    with pytest.raises(MalformedReferenceError, match=r"cut\.json\.gz"):
        _read(str(gz))


def test_malformed_published_yaml(shared_data, tmp_path):
    """A published-layout file with bad matrices or no thermal values (from the PBEsol
    sample file, the one published-format file here)."""
    raw = read_yaml(shared_data / PBESOL_YAML)
    # every check below fails before the force constants are needed: leave the big keys out
    raw = {k: v for k, v in raw.items() if k not in ("displacements", "force_constants")}
    for i, (key, change, match) in enumerate(
        (
            ("supercell_matrix", [[2, 0], [0, 2]], "supercell_matrix is not a finite 3x3"),
            ("supercell_matrix", [[2, 0, 0], [0, 2, 0], [0, 0, 1.5]], "not integer"),
            ("primitive_matrix", [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5]], "primitive_matrix"),
            ("heat_capacity", None, "thermal values"),
        )
    ):
        bad = {k: v for k, v in raw.items() if k != key}
        if change is not None:
            bad[key] = change
        data_dir = _published(tmp_path / f"bad{i}", raw=bad)
        with pytest.raises(MalformedReferenceError, match=match) as err:
            load_phonon_reference(MDR, "mp-1000", data_dir)
        assert "mp-1000.yaml.bz2" in str(err.value)


def test_missing_data_offline_names_file_and_source(tmp_path, monkeypatch):
    with pytest.raises(DataNotFoundError) as err:  # mp-1195: in mdr-50, not embedded
        load_phonon_reference(MDR, "mp-1195", tmp_path)
    message = str(err.value)
    assert "mdr/pbe/mp-1195.yaml.bz2" in message and str(tmp_path) in message
    assert "https://alexandria.icams.rub.de/data/phonon_benchmark/pbe/mp-1195.yaml.bz2" in message
    with pytest.raises(DataNotFoundError, match=r"raw\.githubusercontent\.com/materialsvirtuallab"):
        dataset_checksums(ELASTIC, ["mp-1004526"], tmp_path)  # elastic-dev: not embedded
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    with pytest.raises(DataNotFoundError, match=r"BENCH_OFFLINE is set"):
        load_elastic_reference("mp-pbe-elasticity-2025.3", "mp-2534", tmp_path)


def test_download_goes_to_cache_and_is_verified(shared_data, tmp_path, monkeypatch):
    """The full file is served (or, on a bare clone, the package's extract, with its own
    sha256 standing in for the full file's)."""
    source, sha = _matcalc_at_hand(ELASTIC, shared_data)
    info = get_dataset(ELASTIC)
    monkeypatch.setitem(info.files, info.file, sha)
    served = {"bytes": source.read_bytes()}
    tried = []

    def fake_download(url, dest):
        tried.append(url)
        if "materialsvirtuallab" in url:
            raise OSError("upstream gone")  # the first mirror serves it
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(served["bytes"])

    monkeypatch.setattr(locate, "_download", fake_download)
    cached = tmp_path / "cache" / "bench" / "data" / "matcalc" / f"{ELASTIC}.json.gz"
    served["bytes"] = b"not the file"
    with pytest.raises(DataChecksumError, match="download from"):
        dataset_checksums(ELASTIC, ["mp-2534"])
    assert not cached.exists() and not list(cached.parent.iterdir())  # nothing left behind
    served["bytes"] = source.read_bytes()
    assert dataset_checksums(ELASTIC, ["mp-2534"]) == {
        f"matcalc/{ELASTIC}.json.gz": locate.sha256_of(source)
    }  # the reference below is read from the cached file, not from the package's extract
    assert cached.is_file() and "materialyzeai" in tried[-1]
    assert load_elastic_reference(ELASTIC, "mp-2534").bulk_modulus_GPa == 60.742


def test_find_data_dir_order(tmp_path, monkeypatch):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    assert find_data_dir(None) == embedded_dir()  # nothing else exists yet: the package's copy
    env.mkdir()
    monkeypatch.setenv("BENCH_DATA", str(env))
    assert find_data_dir(None) == env
    explicit.mkdir()
    assert find_data_dir(explicit) == explicit
    monkeypatch.delenv("BENCH_DATA")
    (tmp_path / "cache" / "bench" / "data").mkdir(parents=True)
    assert find_data_dir(None) == tmp_path / "cache" / "bench" / "data"


# ---- slow: the reference side of all 50 MDR materials -----------------------------------


@pytest.mark.slow
def test_reference_side_matches_stored_values(shared_data):
    """S, F, Cv recomputed from the reference force constants (bench.physics.phonons) agree with the
    values stored with the data (phonopy-version differences: F ≤ 0.05 kJ/mol), and ωmax with
    the independent derivation in benchmark_app_300K.csv: all 50 materials, or on a bare
    clone the 8 embedded ones."""
    from bench.physics.phonons import reference_values
    from bench.settings import PhononSettings

    table = _csv(shared_data)
    settings = PhononSettings()
    worst = {"F": 0.0, "S": 0.0, "Cv": 0.0, "w": 0.0}
    for material_id in _mdr_at_hand(shared_data):
        ref = load_phonon_reference(MDR, material_id, shared_data)
        out = reference_values(ref, settings)
        stored, mine = out["stored"], out["recomputed"]
        worst["F"] = max(worst["F"], abs(mine["F_kJ_per_mol"] - stored["F_kJ_per_mol"]))
        worst["S"] = max(worst["S"], abs(mine["S_J_per_K_mol"] - stored["S_J_per_K_mol"]))
        worst["Cv"] = max(worst["Cv"], abs(mine["Cv_J_per_K_mol"] - stored["Cv_J_per_K_mol"]))
        # the CSV used 47.992430733662 K/THz; MDR (and bench) use 47.992
        expected_w = float(table[material_id]["omega_max_K"]) * THZ_TO_K / 47.992430733662
        worst["w"] = max(worst["w"], abs(mine["omega_max_K"] - expected_w))
    assert worst["F"] < 0.05
    assert worst["S"] < 0.2
    assert worst["Cv"] < 0.025
    assert worst["w"] < 1e-3


def test_size_hints_order_materials_by_cost(shared_data):
    from bench.datasets import resolve_subset, size_hints

    dataset, ids = resolve_subset("cv-binary-smoke", shared_data)
    hints = size_hints(dataset, ids, shared_data)
    assert hints["mp-1000"] == 128 and hints["mp-1087"] == 250  # MatCalc-rule supercell atoms
    # the run's supercell length counts (2 atoms: 4×4×4 at 20 Å, 2×2×2 at 10 Å)
    assert size_hints(dataset, ids, shared_data, 10.0)["mp-1000"] == 16
    # a 2 % contraction (the margin run_alone takes): a layer more where L/|a| is just above an
    # integer (mp-1000: |a| = 5.013 Å, 20/(0.98 |a|) = 4.07 -> 5 repeats), never fewer atoms
    contracted = size_hints(dataset, ids, shared_data, None, 0.02)
    assert contracted["mp-1000"] == 250 and all(contracted[i] >= hints[i] for i in ids)
    dataset, ids = resolve_subset("mdr-smoke", shared_data)
    hints = size_hints(dataset, [*ids, "mp-0"], shared_data)
    assert hints["mp-0"] == 0.0 and all(hints[i] > 0 for i in ids)


def test_embedded_files_are_the_upstream_entries(shared_data):
    """The package's data (bench/_data) has the sha256 its definitions record (and, when the
    full files are at hand, their bytes and entries, unchanged)."""
    mdr = get_dataset(MDR)
    for rel, sha in {**mdr.files, **mdr.embedded["files"]}.items():
        if (embedded_dir() / rel).is_file():
            assert locate.sha256_of(embedded_dir() / rel) == sha
            assert locate.sha256_of(shared_data / rel) == sha
    assert sorted(p.name for p in (embedded_dir() / "mdr" / "benchmark_app").iterdir()) == sorted(
        [*resolve_subset("mdr-smoke")[1], "MANIFEST.csv"]
    )
    for name in (ELASTIC, CV):
        info = get_dataset(name)
        embedded = embedded_dir() / info.embedded["file"]
        assert locate.sha256_of(embedded) == info.embedded["sha256"]
        full_file = _matcalc_at_hand(name, shared_data)[0]
        with gzip.open(embedded, "rt") as small, gzip.open(full_file, "rt") as big:
            full = {e["mp_id"]: e for e in json.load(big)}
            entries = json.load(small)
        assert entries and all(full[e["mp_id"]] == e for e in entries)
        covered = {i for s in info.embedded["subsets"] for i in resolve_subset(s)[1]}
        assert {e["mp_id"] for e in entries} == covered


def test_smoke_subsets_run_from_the_embedded_copy_alone(tmp_path, monkeypatch):
    """No data directory, no network: the smoke subsets' references load from the package,
    and a material outside them is one clear error naming the full file."""
    monkeypatch.delenv("BENCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    assert load_phonon_reference(MDR, "mp-111").source.startswith("mdr/benchmark_app/")
    assert load_elastic_reference(ELASTIC, "mp-2534").source.endswith(".smoke.json.gz")
    assert set(dataset_checksums(ELASTIC, resolve_subset("elastic-smoke")[1])) == {
        get_dataset(ELASTIC).file  # the extract stands for the full file it was cut from
    }
    with pytest.raises(DataNotFoundError, match="covers only elastic-smoke"):
        load_elastic_reference(ELASTIC, "mp-1004526")
