"""Runner and CLI: resume after a kill, failures as records, configuration errors up front."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.calculator import all_changes

from bench.cli import main
from bench.errors import ConfigurationError
from bench.models import load_model
from bench.models.loaded import LoadedModel
from bench.run.runner import RunConfig, prepare, run
from bench.settings import PhononSettings
from bench.tasks import Material, run_one
from tests.conftest import BrokenCalculator

needs_chgnet = pytest.mark.skipif(
    importlib.util.find_spec("chgnet") is None, reason="chgnet not installed"
)


def _rows(out: Path) -> list[tuple]:
    with sqlite3.connect(out / "bench.sqlite") as con:
        return con.execute("SELECT material_id, status, run_id FROM records").fetchall()


def test_unknown_model_fails_before_work(tmp_path, capsys):
    assert main(["run", "--model", "chgnt", "--out", str(tmp_path)]) == 2
    assert "did you mean chgnet-0.3.0" in capsys.readouterr().err
    assert not (tmp_path / "bench.sqlite").exists()


def test_unknown_subset_and_task(shared_data):
    with pytest.raises(ConfigurationError, match="subset"):
        prepare(RunConfig(model="emt", subset="mdr-smok", data_dir=str(shared_data)))
    with pytest.raises(ConfigurationError, match="unknown task"):
        prepare(RunConfig(model="emt", task="phonon", data_dir=str(shared_data)))


def test_missing_data_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    import bench.datasets.locate as locate

    monkeypatch.delenv("BENCH_OFFLINE", raising=False)
    tried = []

    def offline(url, dest):
        tried.append(url)
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(locate, "_download", offline)  # raises if the name ever moves
    # mdr-50: not among the smoke subsets the package embeds
    code = main(["run", "--model", "emt", "--subset", "mdr-50", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and tried, "the download was not attempted through locate._download"
    assert "alexandria" in err.lower() or "upstream" in err.lower()


@pytest.mark.slow
def test_emt_on_mdr_records_every_failure(shared_data, tmp_path):
    """EMT has no parameters for these elements: every material is a recorded failure."""
    config = RunConfig(
        model="emt",
        subset="mdr-smoke",
        limit=3,
        data_dir=str(shared_data),
        out_dir=str(tmp_path),
        progress=False,
    )
    summary = run(config)
    assert summary.counts == {"failed": 3}
    rows = _rows(tmp_path)
    assert len(rows) == 3 and all(status == "failed" for _, status, _ in rows)
    with sqlite3.connect(tmp_path / "bench.sqlite") as con:
        details = [json.loads(d) for (d,) in con.execute("SELECT details_json FROM records")]
    assert all(d["worker_peak_rss_MB"] > 50 for d in details)  # the worker's peak memory, MB
    # a second run skips the recorded failures; --retry-failures runs them again
    assert run(config).n_skipped == 3
    again = run(RunConfig(**{**config.__dict__, "retry_failures": True}))
    assert again.n_skipped == 0 and again.counts == {"failed": 3}


@pytest.mark.slow
def test_a_material_that_kills_its_worker_is_a_recorded_failure(shared_data, tmp_path, monkeypatch):
    """A worker dying (out of memory, segfault) breaks the pool: the run goes on, the culprit
    (isolated by re-running the in-flight materials alone) is a WorkerDied failure, every
    other material gets its normal record, once."""
    from bench.datasets import resolve_subset

    _, ids = resolve_subset("mdr-smoke", shared_data)
    culprit = ids[1]
    monkeypatch.setenv("BENCH_TEST_KILL_WORKER_ON", culprit)  # inherited by spawned workers
    config = RunConfig(
        model="emt",
        subset="mdr-smoke",
        limit=5,
        workers=2,
        data_dir=str(shared_data),
        out_dir=str(tmp_path),
        progress=False,
    )
    assert run(config).counts == {"failed": 5}
    with sqlite3.connect(tmp_path / "bench.sqlite") as con:
        rows = con.execute("SELECT material_id, error_type FROM records").fetchall()
    assert sorted(m for m, _ in rows) == sorted(ids[:5])  # each material written once
    died = {m for m, error in rows if error == "WorkerDied"}
    assert died == {culprit}
    monkeypatch.delenv("BENCH_TEST_KILL_WORKER_ON")
    retried = run(RunConfig(**{**config.__dict__, "retry_failures": True, "limit": 2}))
    assert retried.counts == {"failed": 2}  # EMT's own failure now, not a dead worker


def test_nan_model_is_a_failure_with_reference_kept(shared_data):
    _, dataset, ids, _ = prepare(
        RunConfig(model="emt", subset="mdr-smoke", data_dir=str(shared_data))
    )
    broken = LoadedModel(
        key="broken", calculator=BrokenCalculator("nan"), device="cpu", dtype="float64"
    )
    record = run_one("phonons", broken, Material(dataset, ids[0], shared_data), PhononSettings())
    assert record["status"] == "failed"
    assert record["error_type"] == "NonFiniteError"
    assert np.isfinite(record["ref"]["Cv_J_per_K_mol"])  # the reference side is kept


class HungryCalculator(BrokenCalculator):
    """NaN results after touching ``mb`` megabytes (a material with a large peak)."""

    def __init__(self, mb: int) -> None:
        super().__init__("nan")
        self.mb = mb

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        np.ones(self.mb * 2**20 // 8).sum()  # resident while it lives
        super().calculate(atoms, properties, system_changes)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux peak reset")
def test_records_carry_each_materials_own_peak_memory(shared_data):
    """The schedule's memory model is fitted to ``material_peak_rss_MB``: it must be the peak
    while that material ran, not the worker's largest so far (``worker_peak_rss_MB``)."""
    _, dataset, ids, _ = prepare(
        RunConfig(model="emt", subset="mdr-smoke", data_dir=str(shared_data))
    )

    def details(calc):
        model = LoadedModel(key="m", calculator=calc, device="cpu", dtype="float64")
        material = Material(dataset, ids[0], shared_data)
        return run_one("phonons", model, material, PhononSettings())["details"]

    big = details(HungryCalculator(400))
    small = details(BrokenCalculator("nan"))
    assert big["material_peak_rss_MB"] - small["material_peak_rss_MB"] > 300
    assert small["worker_peak_rss_MB"] >= big["material_peak_rss_MB"]


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux peak reset")
def test_the_peak_reset_returns_a_finished_materials_heap_first():
    """Freed small objects stay in glibc's heap; without handing them back, the next
    material's peak would include the last one's leftovers (and the worker would hold them)."""
    from bench.models.timing import proc_status_mb, reset_peak_rss

    leftovers = [np.ones(100) for _ in range(400_000)]  # ~400 MB in small blocks
    before = proc_status_mb("VmRSS")
    del leftovers
    assert reset_peak_rss()
    assert proc_status_mb("VmHWM") < before - 250


@needs_chgnet
@pytest.mark.slow
def test_killed_run_resumes_where_it_stopped(shared_data, tmp_path):
    """SIGKILL a CHGNet run after its first stored material; the re-run does only the rest."""
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "bench.cli",
        "run",
        "--model",
        "chgnet",
        "--subset",
        "mdr-smoke",
        "--limit",
        "4",
        "--out",
        str(out),
        "--data-dir",
        str(shared_data),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            if (out / "bench.sqlite").exists() and len(_rows(out)) >= 1:
                break
        except sqlite3.OperationalError:  # the store exists but its tables are not made yet
            pass
        if proc.poll() is not None:
            pytest.fail("run ended before it could be killed")
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = _rows(out)
    assert 1 <= len(first) < 4, "kill should land mid-run"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(first)} of 4 materials already in" in done.stdout
    final = _rows(out)
    assert len(final) == 4
    # the first run's rows are untouched; the re-run wrote only the remaining materials
    assert set(first) <= set(final)
    assert len({run for _, _, run in final} - {run for _, _, run in first}) == 1


def _pool_workers(parent: int) -> list[int]:
    """Pids of multiprocessing spawn workers whose parent is ``parent`` (Linux /proc)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"spawn_main" in cmdline:
            pids.append(int(stat.parent.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@needs_chgnet
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_exit_when_the_run_is_killed(shared_data, tmp_path):
    """SIGKILL the client of a 2-worker run: its workers end within seconds, holding nothing."""
    cmd = [sys.executable, "-m", "bench.cli", "run", "--model", "chgnet", "--subset"]
    cmd += ["mdr-smoke", "--workers", "2", "--out", str(tmp_path), "--quiet"]
    cmd += ["--data-dir", str(shared_data)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        if proc.poll() is not None:
            pytest.fail("run ended before its workers were seen")
        workers = _pool_workers(proc.pid)
        time.sleep(0.2)
    assert len(workers) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.5)
    assert not any(_alive(pid) for pid in workers)


@needs_chgnet
@pytest.mark.slow
def test_two_workers_match_one(shared_data, tmp_path):
    """Two spawn workers give the same records as the in-process path."""
    base = dict(
        model="chgnet", subset="mdr-smoke", limit=2, data_dir=str(shared_data), progress=False
    )
    run(RunConfig(**base, out_dir=str(tmp_path / "a"), workers=1))
    run(RunConfig(**base, out_dir=str(tmp_path / "b"), workers=2))
    from bench.run.store import Store

    with Store(tmp_path / "a") as a, Store(tmp_path / "b") as b:
        ra, rb = a.records(), b.records()
    cols = ["model.Cv_J_per_K_mol", "model.omega_max_K", "model.F_kJ_per_mol"]
    np.testing.assert_allclose(ra[cols].to_numpy(float), rb[cols].to_numpy(float), atol=1e-3)


def test_a_worker_loads_its_own_model_by_key(monkeypatch):
    """What a pool worker receives is the model's key (``init_worker``) and a ``Job`` that
    pickles without any calculator: nothing model-sized crosses between processes."""
    import pickle

    from bench.run import worker
    from bench.run.config import Job

    job = Job("phonons", "mdr-pbe", PhononSettings())
    payload = pickle.dumps(job)
    assert pickle.loads(payload) == job and b"calculators" not in payload
    loaded = []

    def spy(key, **kwargs):
        loaded.append(key)
        return load_model(key, **kwargs)

    monkeypatch.setattr(worker, "load_model", spy)
    monkeypatch.setattr(worker, "set_threads", lambda threads: None)
    monkeypatch.setattr(worker, "exit_with_parent", lambda parent: None)
    worker.init_worker("emt", None, "float64", None, 1)
    assert loaded == ["emt"]


@pytest.mark.slow
def test_pool_keeps_only_the_materials_in_flight(shared_data, monkeypatch):
    """The client holds the workers + 1 futures in flight, not one per material, so its memory
    does not grow with the length of a run; every material still gets one record."""
    import concurrent.futures as cf
    import gc
    import weakref

    from bench.run.config import Job
    from bench.run.pool import pool_records

    made: list[weakref.ref] = []  # every future this run's pool hands out
    submit = cf.ProcessPoolExecutor.submit

    def tracked(self, *args, **kwargs):
        future = submit(self, *args, **kwargs)
        made.append(weakref.ref(future))
        return future

    monkeypatch.setattr(cf.ProcessPoolExecutor, "submit", tracked)
    config = RunConfig(model="emt", task="elasticity", subset="elastic-smoke", progress=False)
    _, dataset, ids, settings = prepare(
        RunConfig(**{**config.__dict__, "data_dir": str(shared_data)})
    )
    seen, live = [], []
    job = Job("elasticity", dataset, settings, shared_data)
    for record in pool_records(config, job, "emt", ids, 2, 1):
        seen.append(record["material_id"])
        gc.collect()
        live.append(sum(ref() is not None for ref in made))
    assert sorted(seen) == sorted(ids) and len(ids) >= 15 and len(made) == len(ids)
    # in flight (workers + 1) and those just finished (at most as many), not one per material
    assert max(live) <= 2 * (2 + 1) < len(ids)


@pytest.mark.slow
def test_threads_option_sets_the_workers_torch_threads(shared_data, tmp_path, monkeypatch):
    """``bench run --threads N`` gives the worker N torch threads (default: cores / workers),
    so two runs sharing a machine need not oversubscribe its cores."""
    import bench.run.threads as threads
    import bench.run.worker as worker

    seen: list[int] = []
    monkeypatch.setattr(worker, "set_threads", seen.append)  # in-process: worker.execute_here
    monkeypatch.setattr(threads, "_USER_OMP", [])  # as a new process
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    args = ["run", "--model", "emt", "--subset", "mdr-smoke", "--limit", "1", "--quiet"]
    args += ["--data-dir", str(shared_data)]
    assert main([*args, "--out", str(tmp_path / "a"), "--threads", "1"]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    monkeypatch.setattr(threads, "_USER_OMP", [])
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice is the default
    assert main([*args, "--out", str(tmp_path / "c")]) == 0
    assert seen == [1, threads.threads_per_worker(1), 3]


def test_a_busy_machine_gets_a_threads_hint(monkeypatch):
    """Load on the cores a run would take: a hint naming --threads; none when idle or explicit."""
    import bench.run.threads as threads
    from bench.run.threads import oversubscription_hint

    monkeypatch.setattr(threads, "_USER_OMP", [])
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (2.1, 2.0, 2.0))
    assert "--threads 1" in oversubscription_hint(1, None)
    assert oversubscription_hint(1, 1) is None  # the user chose
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert oversubscription_hint(1, None) is None


def test_omp_num_threads_is_the_users_choice_of_threads(monkeypatch):
    """``OMP_NUM_THREADS=1`` is an explicit choice: the default torch threads, and no busy
    machine hint; it outlives the value bench writes for its own workers (a second run in
    the process); a value that is no positive integer is ignored."""
    import bench.run.threads as threads

    monkeypatch.setattr(threads, "_USER_OMP", [])
    monkeypatch.setattr(threads, "limit_blas_threads", lambda: None)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(os, "getloadavg", lambda: (4.1, 4.0, 4.0))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.default_threads(1) == 1 and threads.default_threads(2) == 1
    assert threads.oversubscription_hint(1, None) is None
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # per worker: 4 workers would take 8 threads
    assert threads.oversubscription_hint(2, None) is None
    assert "8 on 4 cores; --threads 1 " in threads.oversubscription_hint(4, None)
    assert threads.oversubscription_hint(4, 1) is None  # the option decides
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")  # set_threads writes it: restored after
    before = __import__("torch").get_num_threads()
    try:
        threads.set_threads(3)  # writes OMP_NUM_THREADS=3 for the workers it starts
        assert os.environ["OMP_NUM_THREADS"] == "3" and threads.default_threads(1) == 1
    finally:
        __import__("torch").set_num_threads(before)
    monkeypatch.setattr(threads, "_USER_OMP", [])
    for value in ("0", "two", ""):
        monkeypatch.setenv("OMP_NUM_THREADS", value)
        assert threads.default_threads(2) == 2 and "--threads 1" in threads.oversubscription_hint(
            2, None
        )
