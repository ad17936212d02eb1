"""Store: atomic rows, resume sets, settings digests never overwrite each other."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.report.metrics import mae_table
from bench.run.export import export
from bench.run.store import Store
from bench.settings import PhononSettings, settings_digest


def _record(material, status="ok", digest="d1", value=1.0, ref=2.0):
    return {
        "model": "m",
        "task": "phonons",
        "dataset": "ds",
        "material_id": material,
        "settings_digest": digest,
        "status": status,
        "error_type": None if status == "ok" else "NotConvergedError",
        "values": {"Cv_J_per_K_mol": value} if status == "ok" else None,
        "ref": {"Cv_J_per_K_mol": ref},
        "timings_s": {"relax": 1.0, "forces": 2.0, "phonopy": 0.5},
        "wall_s": 3.6,
    }


def test_settings_digest_changes_with_any_setting():
    base = PhononSettings()
    assert settings_digest(base) == settings_digest(PhononSettings())
    assert settings_digest(base) != settings_digest(replace(base, displacement_A=0.02))
    relax = replace(base.relax, fmax_eV_per_A=0.001)
    assert settings_digest(base) != settings_digest(replace(base, relax=relax))
    with pytest.raises(ValueError):
        PhononSettings(report_temperature_K=301.0)


def test_resume_and_retry_sets(tmp_path):
    with Store(tmp_path) as store:
        run = store.start_run({"settings_digest": "d1"}, {"x": 1})
        store.write(_record("a"), run)
        store.write(_record("b", status="not_converged"), run)
        store.write(_record("a", digest="d2", value=5.0), run)
        assert store.finished("m", "phonons", "ds", "d1") == {"a", "b"}
        assert store.finished("m", "phonons", "ds", "d1", include_failures=False) == {"a"}
        assert store.finished("m", "phonons", "ds", "d2") == {"a"}
        frame = store.records(settings_digest="d1")
        assert len(frame) == 2
        assert store.settings_for("d1") == {"x": 1}
    # reopening sees the same rows (committed per material)
    with Store(tmp_path) as store:
        assert len(store.records()) == 3
        path = export(store, tmp_path / "out.csv")
    assert path.read_text().count("\n") == 4


def test_mae_over_successes_with_failures_counted(tmp_path):
    with Store(tmp_path) as store:
        run = store.start_run({"settings_digest": "d1"}, {})
        store.write(_record("a", value=1.0, ref=2.0), run)
        store.write(_record("b", value=4.0, ref=2.0), run)
        store.write(_record("c", status="not_converged"), run)
        table = mae_table(store.records(), ("Cv_J_per_K_mol",))
    row = table.iloc[0]
    assert row["Cv_J_per_K_mol"] == pytest.approx(1.5)
    assert (row["n"], row["n_ok"], row["n_failed"], row["n_not_converged"]) == (3, 2, 1, 1)
