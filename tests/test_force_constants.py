"""Kept force constants: the file a record names rebuilds the model's phonons exactly, through
every path a record travels (in process, JSON lines from a family-environment worker), and
``--no-keep-force-constants`` keeps none without changing a number or the digest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from emt_reference import cu_reference
from phonopy import Phonopy

from bench.models import load_model
from bench.physics.kept_fc import fc_payload, phonopy_from_payload
from bench.physics.phonons import run_phonons
from bench.report.bands import phonon_curves
from bench.run.artifacts import find_artifact, load_artifact
from bench.run.remote import _plain
from bench.run.store import Store
from bench.settings import PhononSettings


@pytest.fixture(scope="module")
def model_phonopy() -> Phonopy:
    return run_phonons(cu_reference(), load_model("emt"), PhononSettings())["phonopy"]


def _record(payload: dict) -> dict:
    return {
        "model": "emt",
        "task": "phonons",
        "dataset": "mdr-pbe",
        "material_id": "emt-cu",
        "settings_digest": "abc123",
        "status": "ok",
        "values": {"omega_max_K": 1.0},
        "ref": {},
        "details": {"basis": "primcell"},
        "timings_s": {},
        "artifacts": {"force_constants": payload},
    }


def _stored_details(tmp_path) -> dict:
    with Store(tmp_path, read_only=True) as store:
        return store.raw_records()[0]["details"]


@pytest.mark.parametrize("via_json", [False, True], ids=["in-process", "json-lines"])
def test_kept_file_gives_the_same_bands_and_dos(tmp_path, model_phonopy, via_json):
    record = _record(fc_payload(model_phonopy))
    if via_json:  # as bench.run.remote sends it: arrays become lists
        record = json.loads(json.dumps(record, default=_plain))
    with Store(tmp_path) as store:
        store.write(record, "run1")
    details = _stored_details(tmp_path)
    path = find_artifact(details, "force_constants", [tmp_path])
    assert details["artifacts"]["force_constants"].startswith("artifacts/emt/phonons/mdr-pbe/")
    assert path is not None and path.suffix == ".npz"
    kept = phonopy_from_payload(load_artifact(path))
    assert kept.force_constants.dtype == np.float64
    assert kept.force_constants.shape == (1, 32, 3, 3)  # compact: primitive x supercell atoms
    reference = cu_reference().phonopy
    again = phonon_curves(reference, {"model": model_phonopy})
    loaded = phonon_curves(reference, {"model": kept})
    np.testing.assert_array_equal(loaded.bands_THz["model"], again.bands_THz["model"])
    np.testing.assert_allclose(loaded.dos["model"], again.dos["model"], atol=1e-12)
    assert np.ptp(loaded.bands_THz["model"]) > 5.0  # real bands (EMT Cu: up to ~7 THz)


def test_not_kept_when_the_run_says_so_or_in_memory(tmp_path, model_phonopy):
    with Store(tmp_path) as store:
        store.write(_record(fc_payload(model_phonopy)), "run1", keep_artifacts=False)
    assert not (tmp_path / "artifacts").exists()
    assert "artifacts" not in _stored_details(tmp_path)
    with Store.memory() as store:
        store.write(_record(fc_payload(model_phonopy)), "run1")
        assert "artifacts" not in store.raw_records()[0]["details"]


def test_payload_rejects_a_mismatched_cell(model_phonopy):
    payload = fc_payload(model_phonopy)
    del payload["p2s_map"]
    with pytest.raises(ValueError, match="p2s_map"):
        phonopy_from_payload(payload)


@pytest.mark.slow
def test_run_keeps_force_constants_and_the_option_turns_it_off(shared_data, tmp_path, monkeypatch):
    """End to end through `bench run` (EMT, in this process, the reference swapped for EMT
    copper): one npz per ok material, named by its record; none with the option; same
    digest and the same numbers either way."""
    import bench.datasets
    from bench.cli import main

    monkeypatch.setattr(bench.datasets, "load_phonon_reference", lambda *a, **k: cu_reference())
    rows = {}
    for name, extra in (("kept", []), ("off", ["--no-keep-force-constants"])):
        out = tmp_path / name
        args = ["run", "--model", "emt", "--subset", "mdr-smoke", "--limit", "1", "--quiet"]
        assert main([*args, "--data-dir", str(shared_data), "--out", str(out), *extra]) == 0
        with Store(out, read_only=True) as store:
            (rows[name],) = store.raw_records()
        assert rows[name]["status"] == "ok"
    files = list((tmp_path / "kept" / "artifacts").rglob("*.npz"))
    assert [f.relative_to(tmp_path / "kept").as_posix() for f in files] == [
        rows["kept"]["details"]["artifacts"]["force_constants"]
    ]
    assert not (tmp_path / "off" / "artifacts").exists()
    assert rows["kept"]["settings_digest"] == rows["off"]["settings_digest"]
    assert rows["kept"]["values"] == rows["off"]["values"]
    assert rows["kept"]["values"]["band_rmse_K"] < 1.0  # relaxed back to the reference: ~0.1 K
    # pushed to a records directory, the file goes along only when asked (records stay small),
    # and then a report read from it finds it
    from bench.run.artifacts import find_artifact
    from bench.run.records import push

    details = rows["kept"]["details"]
    with Store(tmp_path / "kept", read_only=True) as store:
        assert push(store, tmp_path / "plain")
        assert push(store, tmp_path / "records", artifacts=True)
        assert find_artifact(details, "force_constants", [tmp_path / "plain"]) is None
        assert push(store, tmp_path / "plain", artifacts=True) == []  # asked later: no new part
    for root in ("records", "plain"):  # but the file, also for the record pushed before
        found = find_artifact(details, "force_constants", [tmp_path / root])
        assert found is not None and found.read_bytes() == files[0].read_bytes()
    # bench run --records: the same rule, --push-artifacts asks for them
    for name, extra in (("run-plain", []), ("run-pushed", ["--push-artifacts"])):
        records = ["--records", str(tmp_path / name / "records"), *extra]
        assert (
            main([*args, "--data-dir", str(shared_data), "--out", str(tmp_path / name), *records])
            == 0
        )
    assert not list((tmp_path / "run-plain" / "records").rglob("*.npz"))
    assert len(list((tmp_path / "run-pushed" / "records").rglob("*.npz"))) == 1
