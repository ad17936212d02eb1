"""Two runs on one store share it: claims keep them from doing the same material twice, and
a dead run's claims are taken over."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bench.run.store import Store

GROUP = {"model": "m", "task": "phonons", "dataset": "d", "settings_digest": "x"}


def test_claims_are_exclusive_until_stale(tmp_path):
    with Store(tmp_path) as a, Store(tmp_path) as b:
        assert a.claim(GROUP, ["1", "2", "3"], "run-a", stale_s=300) == ["1", "2", "3"]
        assert b.claim(GROUP, ["2", "3", "4"], "run-b", stale_s=300) == ["4"]
        time.sleep(0.05)
        # run-a stopped beating: after the stale time its claims are run-b's
        assert b.claim(GROUP, ["2", "3"], "run-b", stale_s=0.01) == ["2", "3"]
        a.release("run-a")
        b.heartbeat("run-b")
        assert a.claim(GROUP, ["2", "4"], "run-c", stale_s=300) == []


@pytest.mark.slow
def test_two_real_runs_on_one_store_never_do_the_same_material(shared_data, tmp_path):
    """Two `bench run`s started together on the same --out (EMT, elastic-smoke, each material
    slowed to 0.3 s): every material is evaluated once, and the second says so."""
    env = {**os.environ, "BENCH_TEST_SLOW_S": "0.3", "BENCH_DATA": str(shared_data)}
    argv = [sys.executable, "-m", "bench.cli", "run", "--model", "emt", "--task", "elasticity"]
    argv += ["--out", str(tmp_path), "--quiet"]
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    with Store(tmp_path) as store:
        rows = store.raw_records()
    assert len(rows) == 20
    # the later run found the earlier one's claims and left those materials to it
    assert sum("left to another run" in out for out, _ in outs) == 1, outs
    # no material was evaluated twice: the two runs' counts add up to the 20
    counts = [_evaluated(out) for out, _ in outs]
    assert sum(counts) == 20, outs


def _evaluated(out: str) -> int:
    """Materials a run evaluated, from its "this run: 2 ok, 18 failed (...)" line."""
    import re

    match = re.search(r"this run: ([^;\n]*)", out)
    assert match, out
    return sum(int(n) for n in re.findall(r"(\d+) (?:ok|failed)", match.group(1)))


def test_resume_onto_records_of_other_data_is_refused(shared_data, tmp_path, capsys):
    import json
    import sqlite3

    from bench.cli import main

    argv = ["run", "--model", "emt", "--task", "elasticity", "--materials", "mp-10903,mp-1031"]
    argv += ["--data-dir", str(shared_data), "--out", str(tmp_path), "--quiet", "--limit", "1"]
    assert main(argv) == 0
    with sqlite3.connect(tmp_path / "bench.sqlite") as con:  # as if the data file had changed
        (run_id, body), *_ = con.execute("SELECT run_id, manifest_json FROM runs").fetchall()
        manifest = json.loads(body)
        manifest["data_checksums"] = {k: "0" * 64 for k in manifest["data_checksums"]}
        con.execute(
            "UPDATE runs SET manifest_json=? WHERE run_id=?", (json.dumps(manifest), run_id)
        )
    capsys.readouterr()
    assert main(argv[:-2]) == 2
    assert "other reference data" in capsys.readouterr().err


def test_claims_of_a_dead_process_on_this_machine_are_freed_at_once(tmp_path):
    """A killed run (kill -9) leaves fresh claims; the next run on the machine sees that the
    owner's process is gone and takes them without waiting for the heartbeat to age."""
    import sqlite3

    with Store(tmp_path) as store:
        assert store.claim(GROUP, ["1", "2"], "dead-run", stale_s=300) == ["1", "2"]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with sqlite3.connect(tmp_path / "bench.sqlite") as con:
        con.execute("UPDATE claims SET pid=?", (dead.pid,))
    with Store(tmp_path) as store:
        assert store.claim(GROUP, ["1", "2"], "next-run", stale_s=300) == ["1", "2"]
