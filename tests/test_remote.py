"""Workers in another interpreter (bench.run.remote): same records as in-process, errors surface."""

from __future__ import annotations

import json
import sys

import pytest

from bench.errors import ConfigurationError
from bench.physics.elasticity import ElasticSettings
from bench.run.runner import RunConfig, run
from bench.run.store import Store
from bench.settings import PhononSettings, settings_dict, settings_digest, settings_from_dict


@pytest.mark.parametrize("cls", [PhononSettings, ElasticSettings])
def test_settings_round_trip(cls):
    settings = cls()
    assert settings_digest(settings_from_dict(cls, settings_dict(settings))) == settings_digest(
        settings
    )


def _records(out, **extra):
    config = RunConfig(
        model="emt",
        task="elasticity",
        subset="elastic-smoke",
        materials=("mp-1000", "mp-10015", "mp-10903"),  # AlNi (mp-10903) runs on EMT
        out_dir=str(out),
        progress=False,
        **extra,
    )
    run(config)
    with Store(out) as store:
        frame = store.records()
    # measurements differ between processes: wall times and peak memory
    details = frame["details_json"].map(json.loads)
    frame["details_json"] = [
        json.dumps({k: v for k, v in d.items() if not k.endswith("_peak_rss_MB")}) for d in details
    ]
    return frame.drop(columns=["run_id", "created_at", "wall_s"]).filter(regex="^(?!time\\.)")


@pytest.mark.slow
def test_remote_workers_match_in_process(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    local = _records(tmp_path / "local")
    remote = _records(tmp_path / "remote", worker_python=sys.executable, workers=2)
    assert (local["status"] == "ok").sum() >= 1 and (local["status"] != "ok").sum() >= 1
    assert (
        local.sort_values("material_id")
        .reset_index(drop=True)
        .equals(remote.sort_values("material_id").reset_index(drop=True))
    )
    assert (tmp_path / "remote" / "workers" / "emt-0.log").is_file()


def test_remote_load_error_is_one_clear_error(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    config = RunConfig(
        model="emt",
        task="elasticity",
        subset="elastic-smoke",
        limit=2,
        out_dir=str(tmp_path),
        progress=False,
        worker_python=sys.executable,
        checkpoint=str(tmp_path / "missing.ckpt"),
    )
    with pytest.raises(ConfigurationError, match="checkpoint"):
        run(config)
    with Store(tmp_path) as store:
        assert store.records().empty
