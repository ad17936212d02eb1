"""One failure rule for every executor: a material's failure (the model raising on it, a
worker it kills) is a record and the run goes on; a bug in bench stops the run, keeps what
was recorded, and is one line on the command line."""

from __future__ import annotations

import sys

import pytest

from bench.cli import main
from bench.errors import BenchBugError
from bench.run.runner import RunConfig, run
from bench.run.store import Store

MATERIALS = ("mp-1000", "mp-10015", "mp-10903")  # EMT knows only AlPt (mp-10903)
EXECUTORS = {
    "in-process": {},
    "pool": {"workers": 2},
    "family environment": {"worker_python": sys.executable},
}


def _config(tmp_path, shared_data, **extra) -> RunConfig:
    return RunConfig(
        model="emt",
        task="elasticity",
        subset="elastic-smoke",
        materials=MATERIALS,
        out_dir=str(tmp_path),
        data_dir=str(shared_data),
        progress=False,
        **extra,
    )


def test_the_model_raising_on_a_structure_is_that_materials_failure(shared_data, tmp_path):
    run(_config(tmp_path, shared_data))
    with Store(tmp_path) as store:
        rows = {r["material_id"]: r for r in store.raw_records()}
    assert rows["mp-10903"]["status"] == "ok"
    assert rows["mp-1000"]["error_type"] == "ModelError"
    assert "No EMT-potential" in rows["mp-1000"]["error_message"]


@pytest.mark.slow
@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_a_bug_stops_the_run(executor, shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_TEST_BUG_ON", "mp-10903")
    with pytest.raises(BenchBugError, match="injected bug"):
        run(_config(tmp_path, shared_data, **EXECUTORS[executor]))
    with Store(tmp_path) as store:
        assert "mp-10903" not in {r["material_id"] for r in store.raw_records()}


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["pool", "family environment"])
def test_a_worker_killed_by_its_material_is_its_failure(
    executor, shared_data, tmp_path, monkeypatch
):
    monkeypatch.setenv("BENCH_TEST_KILL_WORKER_ON", "mp-10015")
    summary = run(_config(tmp_path, shared_data, **EXECUTORS[executor]))
    assert sum(summary.counts.values()) == 3
    with Store(tmp_path) as store:
        rows = {r["material_id"]: r for r in store.raw_records()}
    assert rows["mp-10015"]["error_type"] == "WorkerDied"
    assert rows["mp-10903"]["status"] == "ok"


@pytest.mark.slow
def test_a_bug_is_one_line_on_the_command_line(shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_TEST_BUG_ON", "mp-10903")
    argv = ["run", "--model", "emt", "--task", "elasticity", "--materials", ",".join(MATERIALS)]
    argv += ["--out", str(tmp_path), "--data-dir", str(shared_data), "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "mp-10903" in err and "--debug" in err
