"""Dask executor on a LocalCluster: same records as the local pool; a killed worker's tasks are
redone and every material is written once."""

from __future__ import annotations

import os
import signal

import pytest

from bench.run.runner import RunConfig, run
from bench.run.store import Store

pytest.importorskip("dask.distributed", reason="dask extra not installed (make install)")

#: materials of the elastic set made only of EMT elements (EMT runs them in about a second)
EMT_MATERIALS = ("mp-188", "mp-361", "mp-522", "mp-563", "mp-617", "mp-661", "mp-829", "mp-945")


def _config(out, **extra) -> RunConfig:
    return RunConfig(
        model="emt",
        task="elasticity",
        subset="elastic-full",
        out_dir=str(out),
        progress=False,
        **extra,
    )


def _values(out):
    with Store(out) as store:
        frame = store.records()
    columns = [c for c in frame.columns if c.startswith(("model.", "ref.")) or c == "status"]
    return frame.set_index("material_id")[columns].sort_index()


@pytest.mark.slow
def test_dask_local_cluster_matches_local_pool(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    materials = EMT_MATERIALS[:4]
    run(_config(tmp_path / "local", materials=materials))
    summary = run(_config(tmp_path / "dask", materials=materials, executor="dask", workers=2))
    assert summary.counts and sum(summary.counts.values()) == 4
    local, dask_ = _values(tmp_path / "local"), _values(tmp_path / "dask")
    assert (local["status"] == "ok").sum() >= 2
    assert local.equals(dask_)
    # resume: nothing left to do
    again = run(_config(tmp_path / "dask", materials=materials, executor="dask", workers=2))
    assert again.n_skipped == 4 and not again.counts


@pytest.mark.slow
def test_killed_worker_tasks_are_redone_once(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    killed = []

    def kill_one_worker(record):
        if killed:
            return
        # a worker process other than the one that just finished is likely mid-task
        import psutil  # a dependency of dask.distributed

        workers = []
        for p in psutil.Process().children(recursive=True):
            try:  # a child may exit (or be a zombie) between the listing and its reading
                cmdline = " ".join(p.cmdline())
            except psutil.NoSuchProcess:  # ZombieProcess is one
                continue
            if "distributed" in cmdline or "spawn_main" in cmdline:
                workers.append(p)
        for p in reversed(workers):
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:  # gone since the listing
                continue
            killed.append(p.pid)
            return

    summary = run(
        _config(tmp_path, materials=EMT_MATERIALS, executor="dask", workers=2),
        on_record=kill_one_worker,
    )
    assert killed, "no worker process found to kill"
    with Store(tmp_path) as store:
        frame = store.records()
    assert sorted(frame["material_id"]) == sorted(EMT_MATERIALS)  # each once, none lost
    assert sum(summary.counts.values()) == len(EMT_MATERIALS)
