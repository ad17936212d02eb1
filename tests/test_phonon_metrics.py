"""Phonon metrics beyond Table 2: mean frequency and band RMSE on the mesh (physics), the
stability confusion matrix and the per-model columns (report), old records without them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from emt_reference import cu_reference

from bench.datasets import resolve_subset
from bench.physics.phonon_metrics import band_rmse_K, mesh_mean_frequency_K
from bench.report.markdown import to_markdown
from bench.report.phonon_metrics import phonon_extras, stability_confusion
from bench.report.selection import expected_digest
from bench.report.table import build_table
from bench.report.write import write_report
from bench.run.store import Store
from bench.settings import THZ_TO_K_MDR

MESH = 20.0


def _stiffer(factor: float):
    """EMT copper with force constants × factor² (every frequency × factor)."""
    ph = cu_reference().phonopy
    ph.force_constants = ph.force_constants * factor**2
    return ph


def test_band_rmse_is_zero_on_itself_and_scales_with_the_frequencies():
    ref = cu_reference().phonopy
    same = band_rmse_K(cu_reference().phonopy, ref, MESH, THZ_TO_K_MDR)
    assert same == pytest.approx(0, abs=1e-9)
    # all frequencies × 1.1: RMSE = 0.1 × the weighted RMS frequency of the mesh
    rmse = band_rmse_K(_stiffer(1.1), ref, MESH, THZ_TO_K_MDR)
    f, w = ref.mesh.frequencies, ref.mesh.weights
    rms = np.sqrt((w @ (f**2).mean(axis=1)) / w.sum()) * THZ_TO_K_MDR
    assert rmse == pytest.approx(0.1 * rms, rel=1e-6)
    assert 15.0 < rmse < 40.0  # EMT Cu: RMS frequency ~ 5 THz ~ 250 K


def test_mean_frequency_scales_with_the_force_constants():
    one, stiff = cu_reference().phonopy, _stiffer(1.1)
    for ph in (one, stiff):
        ph.run_mesh(MESH)
    base = mesh_mean_frequency_K(one, THZ_TO_K_MDR)
    assert 200.0 < base < 300.0  # EMT Cu
    assert mesh_mean_frequency_K(stiff, THZ_TO_K_MDR) == pytest.approx(1.1 * base, rel=1e-6)


def test_confusion_matrix_counts_model_against_dft():
    frame = pd.DataFrame(
        {
            "model.stable": [True, True, False, False, False, True, None],
            "ref.stable": [True, False, True, False, False, True, True],
        }
    )
    out = stability_confusion(frame)
    assert out == {
        "both_stable": 2,
        "model_stable_dft_unstable": 1,
        "model_unstable_dft_stable": 1,
        "both_unstable": 2,
        "n": 6,  # the row without a model flag is left out
        "accuracy": pytest.approx(4 / 6),
    }
    empty = stability_confusion(pd.DataFrame({"status": ["ok"]}))
    assert empty["n"] == 0 and np.isnan(empty["accuracy"])


def _record(material_id: str, digest: str, extra: bool, i: int) -> dict:
    ref = {"omega_max_K": 100.0, "S_J_per_K_mol": 10.0, "F_kJ_per_mol": 1.0, "Cv_J_per_K_mol": 5.0}
    values = {k: v + i for k, v in ref.items()}
    ref["stable"], values["stable"] = True, i % 2 == 0
    if extra:
        ref.update(omega_min_K=0.0, omega_avg_K=50.0)
        values.update(omega_min_K=-2.0 * i, omega_avg_K=50.0 + i, band_rmse_K=3.0 * i)
    return {
        "model": "chgnet-0.3.0",
        "task": "phonons",
        "dataset": "mdr-pbe",
        "material_id": material_id,
        "settings_digest": digest,
        "status": "ok",
        "values": values,
        "ref": ref,
        "details": {},
        "timings_s": {"relax": 1.0},
        "wall_s": 1.0,
    }


@pytest.fixture
def store_dir(tmp_path):
    """Four new records (errors 1..4 K, the extras), two made before the extras existed and
    two failures (the whole of mdr-smoke, so the table gives its MAEs)."""
    _, ids = resolve_subset("mdr-smoke")
    digest = expected_digest("chgnet", "phonons", "mdr-pbe")
    with Store(tmp_path / "runs") as store:
        run_id = store.start_run({"settings_digest": digest}, {})
        for i, material_id in enumerate(ids[:6], start=1):
            store.write(_record(material_id, digest, extra=i <= 4, i=i), run_id)
        for material_id in ids[6:]:
            failed = {**_record(material_id, digest, False, 0), "status": "failed", "values": None}
            store.write({**failed, "error_type": "ModelError", "error_message": "x"}, run_id)
    return tmp_path / "runs"


def test_extras_per_model_and_old_records_without_them(store_dir, tmp_path):
    table = build_table([store_dir])
    row = table.frame.set_index("model").loc["chgnet-0.3.0"]
    assert row["omega_min_K.mae"] == pytest.approx(5.0)  # |−2i| over i = 1..4
    assert row["omega_min_K.n"] == 4  # the two old records have no ωmin reference
    assert row["omega_avg_K.mae"] == pytest.approx(2.5)
    assert row["band_rmse_K.mean"] == pytest.approx(7.5)
    assert row["stability.both_stable"] == 3 and row["stability.model_unstable_dft_stable"] == 3
    assert row["stability.accuracy"] == pytest.approx(0.5)
    assert row["omega_max_K.mae"] == pytest.approx(3.5)  # Table 2 keeps all six
    other = table.frame.set_index("model").loc["mace-mpa-0"]  # a seed model not run: NaN
    assert np.isnan(other["omega_min_K.mae"]) and np.isnan(other["stability.accuracy"])
    header = next(line for line in to_markdown(table).splitlines() if line.startswith("| model"))
    assert "ωmin" not in header and header.count("|") == 11  # 6 properties + 2 counts + note
    write_report(table, tmp_path / "results", "pytest")
    csv = pd.read_csv(tmp_path / "results" / "table2.csv").set_index("model")
    assert csv.loc["chgnet-0.3.0", "band_rmse_K.mean"] == pytest.approx(7.5)
    assert csv.loc["chgnet-0.3.0", "stability.n"] == 6


def test_extras_of_records_without_any_new_value():
    records = pd.DataFrame(
        {
            "model": ["m"],
            "task": ["phonons"],
            "status": ["ok"],
            "model.omega_max_K": [1.0],
            "ref.omega_max_K": [2.0],
        }
    )
    row = phonon_extras(records).iloc[0]
    assert np.isnan(row["omega_min_K.mae"]) and row["omega_min_K.n"] == 0
    assert np.isnan(row["band_rmse_K.mean"]) and row["stability.n"] == 0
