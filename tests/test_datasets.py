"""Reference data: loaders on the real files, subsets, checksums, bad files, offline errors."""

from __future__ import annotations

import csv
import lzma
import shutil

import numpy as np
import pytest

import bench.datasets.locate as locate
from bench.datasets import (
    DataChecksumError,
    DataNotFoundError,
    MalformedReferenceError,
    dataset_checksums,
    load_elastic_reference,
    load_phonon_reference,
    resolve_subset,
)
from bench.phonons import reference_values
from bench.settings import PhononSettings

MDR = "mdr-pbe"
CV = "alexandria-binary-pbe-phonon-2025.1"
ELASTIC = "mp-binary-pbe-elasticity-2025.1"
F_CENTRING = [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, an empty cache, no $BENCH_DATA."""

    def refuse(url, dest):
        raise OSError(f"offline test: {url}")

    monkeypatch.setattr(locate, "_download", refuse)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BENCH_DATA", raising=False)


def test_subsets_resolve(shared_data):
    assert len(resolve_subset("mdr-50", shared_data)[1]) == 50
    assert len(resolve_subset("mdr-smoke", shared_data)[1]) == 8
    assert resolve_subset("cv-binary-1170", shared_data)[0] == CV
    assert len(resolve_subset("cv-binary-1170", shared_data)[1]) == 1170
    assert len(resolve_subset("elastic-full", shared_data)[1]) == 3953
    assert len(resolve_subset("elastic-dev", shared_data)[1]) == 200
    smoke = resolve_subset("elastic-smoke", shared_data)[1]
    assert len(smoke) == 20 and set(smoke) <= set(resolve_subset("elastic-full", shared_data)[1])
    assert set(resolve_subset("mdr-full", shared_data)[1]) == set(
        resolve_subset("mdr-50", shared_data)[1]
    )
    with pytest.raises(ValueError, match="did you mean mdr-smoke"):
        resolve_subset("mdr-smok")


def test_mdr_bate_pbe(shared_data):
    ref = load_phonon_reference(MDR, "mp-1000", shared_data)
    np.testing.assert_array_equal(ref.supercell_matrix, np.eye(3) * 2)
    np.testing.assert_allclose(ref.primitive_matrix, F_CENTRING)
    assert len(ref.unit_cell) == 8 and ref.unit_cell.get_chemical_formula() == "Ba4Te4"
    assert ref.unit_cell.cell.lengths() == pytest.approx([7.0881242] * 3)
    assert ref.stored["temperatures_K"][3] == 300.0
    assert ref.stored["heat_capacity_J_per_K_mol"][3] == pytest.approx(49.356048, abs=1e-6)
    assert len(ref.sha256) == 64


def test_mdr_without_primitive_matrix(shared_data):
    ref = load_phonon_reference(MDR, "mp-1195", shared_data)
    assert ref.primitive_matrix is None
    assert len(ref.phonopy.primitive) == len(ref.unit_cell) == 34


def test_published_yaml_bz2(shared_data, tmp_path):
    """The published MDR layout (here the PBEsol example, which has phonon_freq stored)."""
    dest = tmp_path / "mdr" / "pbe" / "mp-1000.yaml.bz2"
    dest.parent.mkdir(parents=True)
    shutil.copy(shared_data / "mdr" / "hyllios_utils" / "mp-1000.yaml.bz2", dest)
    ref = load_phonon_reference(MDR, "mp-1000", tmp_path)
    assert ref.source == "mdr/pbe/mp-1000.yaml.bz2"
    assert ref.stored["omega_max_K"] == pytest.approx(165.1808, abs=0.01)
    assert ref.stored["heat_capacity_J_per_K_mol"][3] == pytest.approx(49.303659, abs=1e-6)
    # our recomputation of ωmax from its force constants reproduces the stored phonon_freq
    recomputed = reference_values(ref, PhononSettings())["recomputed"]
    assert recomputed["omega_max_K"] == pytest.approx(165.1808, abs=0.01)
    assert recomputed["F_kJ_per_mol"] == pytest.approx(-16.102190, abs=1e-3)


def test_reference_side_matches_stored_values_for_all_50(shared_data):
    """S, F, Cv recomputed from the reference force constants with our code agree with the
    values stored with the data (phonopy-version differences: F ≤ 0.05 kJ/mol), and ωmax with
    the independent derivation in benchmark_app_300K.csv."""
    with open(shared_data / "mdr" / "benchmark_app_300K.csv") as handle:
        table = {row["mp_id"]: row for row in csv.DictReader(handle)}
    settings = PhononSettings()
    worst = {"F": 0.0, "S": 0.0, "Cv": 0.0, "w": 0.0}
    for material_id in resolve_subset("mdr-50", shared_data)[1]:
        ref = load_phonon_reference(MDR, material_id, shared_data)
        out = reference_values(ref, settings)
        stored, mine = out["stored"], out["recomputed"]
        worst["F"] = max(worst["F"], abs(mine["F_kJ_per_mol"] - stored["F_kJ_per_mol"]))
        worst["S"] = max(worst["S"], abs(mine["S_J_per_K_mol"] - stored["S_J_per_K_mol"]))
        worst["Cv"] = max(worst["Cv"], abs(mine["Cv_J_per_K_mol"] - stored["Cv_J_per_K_mol"]))
        # the CSV used 47.992430733662 K/THz; MDR (and we) use 47.992
        expected_w = float(table[material_id]["omega_max_K"]) * 47.992 / 47.992430733662
        worst["w"] = max(worst["w"], abs(mine["omega_max_K"] - expected_w))
        assert out["values"]["omega_max_K"] == mine["omega_max_K"]  # not stored in this layout
    assert worst["F"] < 0.05
    assert worst["S"] < 0.2
    assert worst["Cv"] < 0.025
    assert worst["w"] < 1e-3


def test_matcalc_cv_entry(shared_data):
    ref = load_phonon_reference(CV, "mp-1105", shared_data)
    assert ref.stored == {"temperatures_K": [300.0], "heat_capacity_J_per_K_mol": [65.7436504]}
    assert ref.phonopy is None and ref.primitive_matrix is None
    lengths = ref.unit_cell.cell.lengths()
    assert np.all(ref.supercell_matrix.diagonal() * lengths >= 20.0)
    assert np.all((ref.supercell_matrix.diagonal() - 1) * lengths < 20.0)


def test_matcalc_elastic_entries(shared_data):
    for material_id, formula, k, g in (
        ("mp-2534", "AsGa", 60.742, 40.715),
        ("mp-1265", "MgO", 151.45, 118.82),
    ):
        ref = load_elastic_reference(ELASTIC, material_id, shared_data)
        assert ref.structure.get_chemical_formula() == formula
        assert (ref.bulk_modulus_GPa, ref.shear_modulus_GPa) == (k, g)
    with pytest.raises(MalformedReferenceError, match="not in"):
        load_elastic_reference(ELASTIC, "mp-0", shared_data)


def test_checksum_mismatch(shared_data, tmp_path, offline):
    rel = "mdr/benchmark_app/mp-1000/force_constants.yaml.xz"
    dest = tmp_path / rel
    dest.parent.mkdir(parents=True)
    data = bytearray((shared_data / rel).read_bytes())
    data[-10] ^= 0xFF
    dest.write_bytes(bytes(data))
    with pytest.raises(DataChecksumError, match="does not match"):
        load_phonon_reference(MDR, "mp-1000", tmp_path)


def test_truncated_reference_is_malformed(shared_data, tmp_path):
    """A truncated phonopy yaml or MatCalc file is a MalformedReferenceError naming the file
    (a file with a recorded checksum is caught earlier by DataChecksumError)."""
    from bench.datasets.matcalc import _read
    from bench.datasets.mdr import _phonopy_from_yaml

    raw = lzma.decompress(
        (shared_data / "mdr/benchmark_app/mp-1000/force_constants.yaml.xz").read_bytes()
    )
    truncated = tmp_path / "force_constants.yaml.xz"
    truncated.write_bytes(lzma.compress(raw[: len(raw) // 3]))
    with pytest.raises(MalformedReferenceError, match=r"force_constants\.yaml\.xz"):
        _phonopy_from_yaml(truncated)
    gz = tmp_path / "cut.json.gz"
    gz.write_bytes((shared_data / "matcalc" / f"{ELASTIC}.json.gz").read_bytes()[:5000])
    with pytest.raises(MalformedReferenceError, match=r"cut\.json\.gz"):
        _read(str(gz))


def test_missing_data_offline_names_file_and_source(offline):
    with pytest.raises(DataNotFoundError) as err:
        load_phonon_reference(MDR, "mp-1000")
    message = str(err.value)
    assert "mdr/pbe/mp-1000.yaml.bz2" in message
    assert "https://alexandria.icams.rub.de/data/phonon_benchmark/pbe/mp-1000.yaml.bz2" in message
    with pytest.raises(DataNotFoundError, match=r"raw\.githubusercontent\.com/materialsvirtuallab"):
        dataset_checksums(ELASTIC, ["mp-2534"])


def test_download_goes_to_cache_and_is_verified(shared_data, tmp_path, monkeypatch, offline):
    source = shared_data / "matcalc" / f"{ELASTIC}.json.gz"

    def fake_download(url, dest):
        assert url.endswith(f"{ELASTIC}.json.gz")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, dest)

    monkeypatch.setattr(locate, "_download", fake_download)
    checksums = dataset_checksums(ELASTIC, ["mp-2534"])
    cached = tmp_path / "cache" / "bench" / "data" / "matcalc" / f"{ELASTIC}.json.gz"
    assert cached.is_file()
    assert checksums == {f"matcalc/{ELASTIC}.json.gz": locate.sha256_of(source)}
