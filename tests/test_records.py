"""Committed records: append-only part files that a fresh store resumes from and readers read."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from bench.cli import main
from bench.datasets import resolve_subset
from bench.run.records import is_records_dir, load_into, open_results, push, read_group
from bench.run.runner import RunConfig, prepare, run
from bench.run.store import Store
from bench.settings import dict_digest

#: settings and the digest they hash to (a records folder is named by it, and checked)
SETTINGS = {"class": "X"}
DIGEST = dict_digest(SETTINGS)


def _record(material: str, status: str, value: float | None = None) -> dict:
    return {
        "model": "emt",
        "task": "elasticity",
        "dataset": "mp-binary-pbe-elasticity-2025.1",
        "material_id": material,
        "settings_digest": DIGEST,
        "status": status,
        "error_type": None if status == "ok" else "RelaxationError",
        "error_message": None if status == "ok" else "diverged",
        "values": {"K_GPa": value} if value is not None else None,
        "ref": {"K_GPa": 100.0},
        "details": {},
        "timings_s": {},
        "wall_s": 1.0,
    }


def _store_with(tmp_path, *records) -> Store:
    store = Store(tmp_path / "store")
    run_id = store.start_run({"settings_digest": DIGEST, "model": "emt"}, SETTINGS)
    for record in records:
        store.write(record, run_id)
    return store


def test_an_ok_record_is_never_replaced_by_a_failure(tmp_path):
    with _store_with(tmp_path, _record("mp-1", "ok", 90.0)) as store:
        run_id = store.start_run({"settings_digest": DIGEST, "model": "emt"}, SETTINGS)
        store.write(_record("mp-1", "failed"), run_id)  # a second run on the same store
        store.write(_record("mp-2", "failed"), run_id)
        store.write(_record("mp-2", "ok", 95.0), run_id)  # --retry-failures: replaced
        rows = {r["material_id"]: r for r in store.raw_records()}
    assert rows["mp-1"]["status"] == "ok" and rows["mp-1"]["values"] == {"K_GPa": 90.0}
    assert rows["mp-2"]["status"] == "ok"


def test_push_appends_new_parts_and_never_rewrites(tmp_path):
    root = tmp_path / "records"
    with _store_with(tmp_path, _record("mp-1", "ok", 90.0), _record("mp-2", "failed")) as store:
        (first,) = push(store, root)
        before = first.read_bytes()
        assert push(store, root) == []  # nothing new
        run_id = store.start_run({"settings_digest": DIGEST, "model": "emt"}, SETTINGS)
        store.write(_record("mp-3", "ok", 80.0), run_id)
        store.write(_record("mp-2", "ok", 99.0), run_id)  # a retried failure, now ok
        (second,) = push(store, root)
    assert first.read_bytes() == before and first != second
    with gzip.open(second, "rt") as handle:
        lines = [json.loads(x) for x in handle]
    assert sorted(r["material_id"] for r in lines) == ["mp-2", "mp-3"]
    merged = read_group(second.parent)
    assert {m: r["status"] for m, r in merged.items()} == {"mp-1": "ok", "mp-2": "ok", "mp-3": "ok"}
    assert (second.parent / "settings.json").exists()
    assert len(list((second.parent / "runs").glob("*.json"))) == 2
    assert is_records_dir(root) and not is_records_dir(tmp_path / "store")
    with open_results(root) as store:  # read like a store
        assert len(store.records()) == 3 and len(store.manifests()) == 2


def test_parts_are_byte_reproducible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    with _store_with(tmp_path, _record("mp-1", "ok", 90.0)) as store:
        (pa,) = push(store, a)
        (pb,) = push(store, b)
    data = pa.read_bytes()
    assert data == pb.read_bytes()
    # the gzip header holds neither a time nor a file name (the temporary file's name carries
    # the process id, so two pushes in two processes would differ)
    assert data[:2] == b"\x1f\x8b" and data[4:8] == b"\0\0\0\0" and not data[3] & 0x08


def test_a_records_folder_is_never_made_a_store(tmp_path, capsys):
    root = tmp_path / "records"
    with _store_with(tmp_path, _record("mp-1", "ok", 90.0)) as store:
        push(store, root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    # the slip: --out naming the records folder (push reads --out's store, run writes one)
    assert main(["records", "push", "--out", str(root), "--to", str(root)]) == 2
    assert "no bench.sqlite in" in capsys.readouterr().err
    argv = ["run", "--model", "emt", "--task", "elasticity", "--subset", "elastic-smoke"]
    assert main([*argv, "--out", str(root)]) == 2
    assert "holds committed records" in capsys.readouterr().err
    assert main([*argv, "--out", str(root), "--records", str(root)]) == 2
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert is_records_dir(root)
    with open_results(root) as store:
        assert len(store.records()) == 1


def test_records_committed_with_this_checkout_need_committed_code(tmp_path, monkeypatch):
    import bench.run.manifest as manifest
    from bench.errors import ConfigurationError
    from bench.run.config import check_records_dirs

    monkeypatch.setattr(manifest, "source_root", lambda: tmp_path)
    monkeypatch.setattr(manifest, "git_commit", lambda: "abc-dirty")
    with pytest.raises(ConfigurationError, match="uncommitted changes"):
        check_records_dirs(str(tmp_path / "runs"), str(tmp_path / "results" / "records"))
    check_records_dirs(str(tmp_path / "runs"), str(tmp_path.parent / "elsewhere"))  # not ours
    monkeypatch.setattr(manifest, "git_commit", lambda: "abc")
    check_records_dirs(str(tmp_path / "runs"), str(tmp_path / "results" / "records"))


def test_dirty_ignores_committed_results_only(tmp_path, monkeypatch):
    import subprocess

    import bench.run.manifest as manifest

    repo = tmp_path / "repo"
    (repo / "results").mkdir(parents=True)
    (repo / "code.py").write_text("x = 1\n")
    (repo / "results" / "table.md").write_text("1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    monkeypatch.setattr(manifest, "source_root", lambda: repo)
    assert not manifest.git_commit().endswith("-dirty")
    (repo / "results" / "table.md").write_text("2\n")  # a regenerated summary
    assert not manifest.git_commit().endswith("-dirty")
    (repo / "code.py").write_text("x = 2\n")  # a change that can change a number
    assert manifest.git_commit().endswith("-dirty")


@pytest.mark.slow
def test_fresh_store_resumes_from_records_and_readers_read_them(shared_data, tmp_path, capsys):
    """EMT on elastic-smoke: 8 materials into records, then a fresh store (a fresh clone) with
    --records runs only the remaining 12 and adds them as a second part."""
    root = tmp_path / "records"
    config = dict(
        model="emt",
        task="elasticity",
        subset="elastic-smoke",
        progress=False,
        data_dir=str(shared_data),
    )
    first = run(RunConfig(**config, limit=8, out_dir=str(tmp_path / "a"), records_dir=str(root)))
    assert first.n_skipped == 0 and sum(first.counts.values()) == 8
    table = ["table", "--runs", str(root), "--elastic-subset", "elastic-smoke", "--quiet"]
    assert main([*table, "--out", str(tmp_path / "t1"), "--recorded-only"]) == 0
    md = (tmp_path / "t1" / "table2.md").read_text()
    assert "elasticity: `elastic-smoke` (protocol matcalc; coverage: emt 8 of 20)" in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    models = [r.split("|")[1].strip() for r in rows[1:]]
    assert models[0] == "emt"  # then the paper's rows, nothing of this machine's state
    assert all(r.endswith("| the paper's value only |") for r in rows[2:])
    assert rows[1].split("|")[-3].strip() == "8 of 20 run, 8 failed, no MAE"  # partial: no MAE
    second = run(RunConfig(**config, out_dir=str(tmp_path / "b"), records_dir=str(root)))
    assert second.n_skipped == 8 and sum(second.counts.values()) == 12
    assert main([*table, "--out", str(tmp_path / "t2")]) == 0  # every Table 2 model has a row
    md = (tmp_path / "t2" / "table2.md").read_text()
    assert "emt 20 of 20)" in md and "| orb-v3-direct-20-omat |" in md
    assert " run |" not in md  # a complete run's row says nothing more
    capsys.readouterr()
    assert main(["summary", "--out", str(root), "--runs"]) == 0
    out = capsys.readouterr().out
    assert f"{first.run_id}" in out and f"{second.run_id}" in out
    ok = first.counts.get("ok", 0) + second.counts.get("ok", 0)
    assert f"total: 2 runs, 20 records ({ok} ok, {20 - ok} not ok)" in out
    assert main(["summary", "--out", str(root), "--dataset", "mdr-pbe"]) == 0
    assert "no records" in capsys.readouterr().out
    (group,) = {p.parent for p in root.rglob("part-*.jsonl.gz")}
    assert len(list(group.glob("part-*"))) == 2 and len(read_group(group)) == 20
    with Store(tmp_path / "c") as store:
        assert load_into(store, root) == 20
    assert main(["summary", "--out", str(root)]) == 0
    assert "K_GPa (n=" in capsys.readouterr().out
    assert main(["export", "--out", str(root), "--to", str(tmp_path / "r.csv")]) == 0
    assert (tmp_path / "r.csv").read_text().count("\n") == 21


def test_reading_a_missing_results_directory_is_one_error(tmp_path, capsys):
    assert main(["summary", "--out", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no results in" in err and "Traceback" not in err
    assert not (tmp_path / "nope").exists()


def test_largest_first_only_within_windows_so_prefixes_stay_random():
    from bench.run.schedule import largest_first_within_windows

    ids = [f"m{i}" for i in range(10)]
    hints = {f"m{i}": float(i) for i in range(10)}
    out = largest_first_within_windows(ids, hints, 4)
    assert out == ["m3", "m2", "m1", "m0", "m7", "m6", "m5", "m4", "m9", "m8"]
    for k in (4, 8):  # each full window holds exactly the subset's own prefix
        assert set(out[:k]) == set(ids[:k])


@pytest.mark.slow
def test_a_material_marked_alone_runs_with_nothing_beside_it(shared_data, tmp_path, monkeypatch):
    """Memory-aware scheduling: with two workers, a material too big to share the machine
    starts only after everything before it is done, and nothing starts until it is done."""
    import bench.run.pool as pool
    import bench.run.runner as runner

    # CuPd (EMT: seconds) between materials EMT cannot do (failed at once): without the rule
    # the fast ones after it would finish before it
    ids = ["mp-1010953", "mp-1014219", "mp-1018029", "mp-10197", "mp-1031"]
    seen: list[str] = []
    monkeypatch.setattr(pool, "run_alone", lambda *a: {"mp-1018029"})
    monkeypatch.setattr(runner, "largest_first_within_windows", lambda ids, hints, w: ids)
    config = RunConfig(
        model="emt",
        task="elasticity",
        subset="elastic-smoke",
        materials=tuple(ids),
        workers=2,
        out_dir=str(tmp_path),
        progress=False,
        data_dir=str(shared_data),
    )
    threads: dict[str, int | None] = {}

    def note(record: dict) -> None:
        seen.append(record["material_id"])
        threads[record["material_id"]] = (record.get("details") or {}).get("torch_threads")

    run(config, on_record=note)
    assert set(seen[:2]) == set(ids[:2]) and seen[2] == ids[2] and set(seen[3:]) == set(ids[3:])
    # the alone one ran on the threads of both workers (cores / 2 each), the others on their own
    from bench.run.threads import default_threads

    assert threads == {i: 2 * default_threads(2) if i == ids[2] else None for i in ids}


def test_torch_threads_are_set_for_a_block_and_restored():
    import torch

    from bench.run.threads import torch_threads

    before = torch.get_num_threads()
    with torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(before + 1):  # a material that fails
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_alone_threshold_follows_the_machine_and_the_measured_envelope():
    from bench.run.schedule import PEAK_BASE_MB, PEAK_MB_PER_ATOM, RESERVED_MB, alone_above_atoms

    # the threshold the docs quote (README, results/speed/README.md): 1,313 atoms on this
    # machine's 24,105 MB (/proc/meminfo) with the envelope measured by `bench speed peaks`
    assert (PEAK_BASE_MB, PEAK_MB_PER_ATOM, RESERVED_MB) == (591.0, 7.95, 2048.0)
    assert round(alone_above_atoms(24_105.0)) == 1313
    assert alone_above_atoms(256_000.0) > 4000  # the Cv set's largest is 3,822 atoms
    assert alone_above_atoms(24_000.0, 1000.0, 5.0) == pytest.approx(
        ((24_000 - RESERVED_MB) / 2 - 1000) / 5
    )
    assert alone_above_atoms(24_000.0, 1000.0, 0.0) == float("inf")  # a flat envelope
    assert alone_above_atoms(4_000.0, 500.0, 5.0) == 0.0  # not even a full batch: all alone


def test_run_alone_sizes_the_runs_own_supercell_with_a_contraction_margin(shared_data):
    from dataclasses import replace

    from bench.run.config import Job
    from bench.run.schedule import run_alone
    from bench.tasks.phonons import MATCALC_PHONONS

    cv = "alexandria-binary-pbe-phonon-2025.1"
    ids = resolve_subset("cv-binary-smoke", shared_data)[1]
    job = Job("phonons", cv, MATCALC_PHONONS, shared_data)
    # mp-1000: 128 atoms in its 20 Å supercell (4x4x4), 250 (5x5x5) once the cell is 2 %
    # smaller, as a relaxation may make it: a limit between the two runs it alone
    assert "mp-1000" in run_alone(job, ids, 200.0)
    assert "mp-1000" not in run_alone(job, ids, 260.0)
    # the run's own supercell length: 2x2x2 at 10 Å (16 atoms), 3x3x3 contracted (54)
    short = replace(job, settings=replace(MATCALC_PHONONS, supercell_min_length_A=10.0))
    assert "mp-1000" not in run_alone(short, ids, 100.0)
    assert run_alone(job, ids, float("inf")) == set()
    assert run_alone(job, ids, 0.0) == set(ids)
    # never for other tasks, nor for MDR's reference supercells
    assert run_alone(Job("elasticity", cv, None, shared_data), ids, 0.0) == set()
    mdr_ids = resolve_subset("mdr-smoke", shared_data)[1]
    assert run_alone(Job("phonons", "mdr-pbe", MATCALC_PHONONS, shared_data), mdr_ids, 0.0) == set()


def _one_emt_material(out, shared_data) -> RunConfig:
    """EMT on one elastic-smoke material (seconds) into the store ``out``."""
    return RunConfig(
        model="emt",
        task="elasticity",
        subset="elastic-smoke",
        materials=("mp-10903",),
        out_dir=str(out),
        data_dir=str(shared_data),
        progress=False,
    )


def test_read_commands_create_nothing_in_a_store(shared_data, tmp_path, capsys):
    out = tmp_path / "store"
    run(_one_emt_material(out, shared_data))
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main(["summary", "--out", str(out)]) == 0
    assert main(["export", "--out", str(out), "--to", str(tmp_path / "r.csv")]) == 0
    assert main(["table", "--runs", str(out), "--out", str(tmp_path / "t")]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


@pytest.mark.slow
@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_stop_signal_stops_like_ctrl_c_and_pushes_the_records(signum, shared_data, tmp_path):
    """A scheduler's SIGTERM, or ``kill -INT`` on a background run (which a shell starts with
    SIGINT ignored, as here): exit 130, the finished materials in a new part, no claims left."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    def like_a_background_job() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    out, root = tmp_path / "store", tmp_path / "records"
    argv = [sys.executable, "-m", "bench.cli", "run", "--model", "emt", "--task", "elasticity"]
    argv += ["--out", str(out), "--records", str(root), "--data-dir", str(shared_data), "--quiet"]
    env = {**os.environ, "BENCH_TEST_SLOW_S": "1"}
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=like_a_background_job,
    )
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            with sqlite3.connect(out / "bench.sqlite") as con:
                if con.execute("SELECT count(*) FROM records").fetchone()[0] >= 2:
                    break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.2)
    proc.send_signal(getattr(signal, signum))
    assert proc.wait(timeout=60) == 130
    with sqlite3.connect(out / "bench.sqlite") as con:
        n = con.execute("SELECT count(*) FROM records").fetchone()[0]
        assert con.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
    assert 2 <= n < 20
    (group,) = {p.parent for p in root.rglob("part-*.jsonl.gz")}
    assert len(read_group(group)) == n


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    """A write that raises leaves the previous content and no temporary file behind."""
    from bench.run.atomic import atomic_write

    path = tmp_path / "part.jsonl.gz"
    with atomic_write(path) as handle:
        handle.write(b"first")
    with pytest.raises(RuntimeError), atomic_write(path) as handle:
        handle.write(b"half")
        raise RuntimeError("killed mid-write")
    assert path.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["part.jsonl.gz"]


@pytest.mark.slow
def test_push_every_adds_parts_while_the_run_goes(shared_data, tmp_path, capsys):
    """--push-every: records reach the records directory during the run, not only at its end
    (push_every_s=0: after every record), and none is written twice."""
    root = tmp_path / "records"
    config = RunConfig(
        model="emt",
        task="elasticity",
        subset="elastic-smoke",
        limit=3,
        progress=False,
        data_dir=str(shared_data),
        out_dir=str(tmp_path / "a"),
        records_dir=str(root),
        push_every_s=0.0,
    )
    seen: list[int] = []  # records in the directory when each record arrives

    def count(record: dict) -> None:
        seen.append(sum(len(read_group(g)) for g in {p.parent for p in root.rglob("part-*")}))

    assert sum(run(config, on_record=count).counts.values()) == 3
    assert seen == [0, 1, 2]  # on_record runs before that record's push
    (group,) = {p.parent for p in root.rglob("part-*.jsonl.gz")}
    assert len(list(group.glob("part-*"))) == 3 and len(read_group(group)) == 3
    args = ["run", "--model", "emt", "--task", "elasticity", "--push-every", "5"]
    assert main([*args, "--out", str(tmp_path / "b")]) == 2
    assert "--push-every needs --records" in capsys.readouterr().err
    args[-2:] = ["--push-artifacts"]
    assert main([*args, "--out", str(tmp_path / "b")]) == 2
    assert "--push-artifacts needs --records" in capsys.readouterr().err


def test_committed_records_stay_within_their_budget():
    """results/records is cloned with the repository: its part files, manifests and the few
    artifacts pushed on purpose stay under RECORDS_BUDGET_MB (kept force constants of a full
    set would not: pushes leave them out unless asked)."""
    from pathlib import Path

    from bench.run.records import RECORDS_BUDGET_MB

    root = Path(__file__).resolve().parents[1] / "results" / "records"
    if not root.is_dir():
        pytest.skip("no committed records in this checkout")
    size_mb = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
    assert 0 < size_mb < RECORDS_BUDGET_MB, f"results/records holds {size_mb:.1f} MB"


def test_a_worker_that_died_is_a_counted_failure_in_table_and_site(shared_data, tmp_path, capsys):
    """A WorkerDied record (no details, no values: the process was killed, e.g. out of memory)
    is read by summary, table and report like any failure, and counted as one."""
    from bench.tasks import worker_died_record

    out = tmp_path / "store"
    config = _one_emt_material(out, shared_data)
    _, dataset, _, settings = prepare(config)
    run(config)
    with Store(out) as store:
        run_id = store.start_run({"settings_digest": DIGEST, "model": "emt"}, SETTINGS)
        died = worker_died_record("emt", "elasticity", dataset, "mp-1018029", settings, "alone")
        store.write(died, run_id)
    assert main(["summary", "--out", str(out)]) == 0
    assert main(["table", "--runs", str(out), "--out", str(tmp_path / "t")]) == 0
    row = pd.read_csv(tmp_path / "t" / "table2.csv").set_index("model").loc["emt"]
    assert row["elasticity.n_failed"] == 1
    assert main(["report", "--runs", str(out), "--out", str(tmp_path / "site")]) == 0
    assert "WorkerDied" in (tmp_path / "site" / "failures.html").read_text()


def test_run_spans_give_wall_time_from_start_to_last_record_and_worker_time():
    from bench.report.runs import run_spans, total_row

    records = pd.DataFrame(
        {
            "run_id": ["r1", "r1", "r1", "r2"],
            "model": ["m"] * 4,
            "task": ["phonons"] * 4,
            "dataset": ["d"] * 4,
            "status": ["ok", "ok", "failed", "ok"],
            "created_at": [
                "2026-01-01T01:00:00+00:00",
                "2026-01-01T02:00:00+00:00",
                "2026-01-01T01:30:00+00:00",
                "2026-01-02T00:30:00+00:00",
            ],
            "wall_s": [3600.0, 5400.0, 1800.0, 600.0],
        }
    )
    manifests = [{"run_id": "r1", "started_at": "2026-01-01T00:00:00+00:00"}]  # r2 has none
    spans = run_spans(records, manifests).set_index("run_id")
    assert spans.loc["r1", "wall_h"] == 2.0 and spans.loc["r1", "worker_h"] == 3.0
    assert (spans.loc["r1", "ok"], spans.loc["r1", "failed"]) == (2, 1)
    assert spans.loc["r2", "started_at"] == "2026-01-02T00:20:00+00:00"  # its first record's start
    assert spans.loc["r2", "wall_h"] == pytest.approx(1 / 6)
    assert total_row(run_spans(records, manifests))["worker_h"] == pytest.approx(3 + 1 / 6)
    assert run_spans(records.iloc[0:0], manifests).empty
