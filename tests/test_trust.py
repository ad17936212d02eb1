"""Records, data files and labels are untrusted input (issue 28): a crafted part, a skewed
clock or a bad option ends in one clear line or a recorded failure, never in a file written,
read or copied outside the folders a command was given, nor in a lost ok record."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
from pathlib import Path

import pytest

from bench.cli import main
from bench.datasets import resolve_subset
from bench.datasets.locate import embedded_dir
from bench.names import inside, safe_name
from bench.run.artifacts import find_artifact
from bench.run.records import group_dir

RUN = ["run", "--model", "emt", "--task", "elasticity", "--quiet"]


def _snapshot(root: Path, *skip: Path) -> dict[str, int]:
    """Every file under ``root`` (outside ``skip``) -> its size and mtime."""
    out = {}
    for path in root.rglob("*"):
        if any(path == s or s in path.parents for s in skip):
            continue
        if path.is_file() or path.is_symlink():
            out[str(path.relative_to(root))] = path.lstat().st_mtime_ns
    return out


def _one_line(capsys, code: int, got: int) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert got == code, err
    assert "Traceback" not in err and len(lines) <= 1, err
    return lines[0] if lines else ""


def _write_part(directory: Path, records: list[dict], name: str = "part-2099-x") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    return path


@pytest.fixture(scope="module")
def emt_records(shared_data, tmp_path_factory) -> tuple[Path, Path, dict]:
    """A store and a records folder of EMT on one elastic material (seconds); the record."""
    scratch = tmp_path_factory.mktemp("emt")
    out, root = scratch / "runs", scratch / "records"
    argv = [*RUN, "--materials", "mp-10903", "--out", str(out), "--records", str(root)]
    assert main([*argv, "--data-dir", str(shared_data)]) == 0
    (part,) = root.rglob("part-*.jsonl.gz")
    with gzip.open(part, "rt") as handle:
        (record,) = [json.loads(line) for line in handle]
    return out, root, record


def _copy_tree(src: Path, dest: Path) -> None:
    import shutil

    shutil.copytree(src, dest, symlinks=True)


# --- names and paths --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["../../x", "..", ".", "", "a/b", 'x"><img src=x>', "/etc/passwd", "a\0b", "é"]
)
def test_a_safe_name_is_one_plain_file_name(text):
    name = safe_name(text)
    assert name and not name.startswith(".") and "/" not in name and "\\" not in name
    assert all(c.isascii() and (c.isalnum() or c in "@._+-") for c in name)
    assert safe_name(text) != safe_name(text + "/")  # a changed name carries its hash


def test_plain_labels_keep_their_names():
    for text in ("chgnet-0.3.0", "7net-0", "emt@0123abcd", "mp-10903", "c3f3f52e154a"):
        assert safe_name(text) == text


def test_artifact_paths_resolve_inside_the_artifacts_folder(tmp_path):
    store = tmp_path / "store"
    (store / "artifacts" / "m").mkdir(parents=True)
    (store / "artifacts" / "m" / "x.npz").write_bytes(b"x")
    (tmp_path / "secret").write_text("key")
    (store / "artifacts" / "link.npz").symlink_to(tmp_path / "secret")
    good = {"artifacts": {"force_constants": "artifacts/m/x.npz"}}
    assert (
        find_artifact(good, "force_constants", [store])
        == (store / good["artifacts"]["force_constants"]).resolve()
    )
    for rel in (
        "../secret",
        "artifacts/../../secret",
        str(tmp_path / "secret"),
        "artifacts/link.npz",
        "secret",
        ["artifacts/m/x.npz"],
    ):
        details = {"artifacts": {"force_constants": rel}}
        assert find_artifact(details, "force_constants", [store]) is None, rel
        assert inside(store, rel, "artifacts") is None, rel
    assert find_artifact({"artifacts": "artifacts/m/x.npz"}, "force_constants", [store]) is None


def test_a_crafted_part_makes_report_and_table_write_only_under_out(emt_records, tmp_path, capsys):
    """A part whose model label, material id and artifact path climb out of their folders:
    ``bench table`` and ``bench report`` write only under --out and open nothing outside."""
    _, source, record = emt_records
    root = tmp_path / "records"
    _copy_tree(source, root)
    (tmp_path / "secret").write_text("do not read")
    evil = "emt@../../../evil<img src=x>"
    smoke = resolve_subset("elastic-smoke")[1]  # the whole subset: the table has numbers
    crafted = [
        *({**record, "model": evil, "material_id": m, "run_id": "r-evil"} for m in smoke),
        {**record, "model": evil, "material_id": "../../../pwn", "run_id": "r-evil"},
        {
            **record,
            "run_id": "r-evil",
            "material_id": "mp-1031",
            "details": {"artifacts": {"force_constants": "../../secret"}},
        },
    ]
    group = [record[k] for k in ("task", "dataset", "settings_digest")]
    for model in (evil, record["model"]):
        folder = group_dir(root, model, *group)
        folder.mkdir(parents=True, exist_ok=True)
        settings = group_dir(source, record["model"], *group) / "settings.json"
        (folder / "settings.json").write_bytes(settings.read_bytes())
        _write_part(folder, [r for r in crafted if r["model"] == model])
    before = _snapshot(tmp_path, tmp_path / "out")
    argv = ["table", "--runs", str(root), "--out", str(tmp_path / "out" / "t"), "--quiet"]
    _one_line(capsys, 0, main([*argv, "--elastic-subset", "elastic-smoke", "--recorded-only"]))
    argv = ["report", "--runs", str(root), "--out", str(tmp_path / "out" / "site")]
    _one_line(capsys, 0, main([*argv, "--elastic-subset", "elastic-smoke"]))
    assert _snapshot(tmp_path, tmp_path / "out") == before
    written = [p.resolve() for p in (tmp_path / "out").rglob("*")]
    assert all(p.is_relative_to((tmp_path / "out").resolve()) for p in written)
    assert any(safe_name(evil) in p.name for p in (tmp_path / "out" / "t" / "parity").iterdir())
    assert any(safe_name(evil) in p.name for p in (tmp_path / "out" / "site" / "parity").rglob("*"))
    assert not any("do not read" in p.read_text(errors="ignore") for p in written if p.is_file())


def test_push_artifacts_copies_nothing_a_crafted_part_names_outside(
    emt_records, shared_data, tmp_path, capsys
):
    """A committed part naming ``../../.ssh/id_rsa`` as an artifact: --push-artifacts copies
    nothing into the checkout, warns once, and the run goes on."""
    out, source, record = emt_records
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    checkout = home / "checkout"
    root = checkout / "results" / "records"
    _copy_tree(source, root)
    _copy_tree(out, checkout / "runs")
    folder = group_dir(root, *(record[k] for k in ("model", "task", "dataset", "settings_digest")))
    crafted = {
        **record,
        "material_id": "mp-1031",
        "details": {"artifacts": {"force_constants": "../../.ssh/id_rsa"}},
    }
    _write_part(folder, [crafted])
    argv = [*RUN, "--materials", "mp-10903", "--out", str(checkout / "runs"), "--push-artifacts"]
    argv += ["--records", str(root), "--data-dir", str(shared_data)]
    before = _snapshot(home, root, checkout / "runs")
    line = _one_line(capsys, 0, main(argv))
    assert "not copying" in line and "id_rsa" in line
    assert _snapshot(home, root, checkout / "runs") == before
    assert not (checkout / ".ssh").exists()
    assert (
        not any(p.is_file() for p in (root / "artifacts").rglob("*"))
        if (root / "artifacts").exists()
        else True
    )


def test_records_of_a_model_this_version_does_not_know_are_skipped(emt_records, tmp_path, capsys):
    _, source, record = emt_records
    root = tmp_path / "records"
    _copy_tree(source, root)
    group = [record[k] for k in ("task", "dataset", "settings_digest")]
    folder = group_dir(root, "nope-9", *group)
    folder.mkdir(parents=True)
    settings = group_dir(source, record["model"], *group) / "settings.json"
    (folder / "settings.json").write_bytes(settings.read_bytes())
    _write_part(folder, [{**record, "model": "nope-9"}])
    for command in ("table", "report"):
        argv = [command, "--runs", str(root), "--out", str(tmp_path / command)]
        line = _one_line(capsys, 0, main([*argv, "--elastic-subset", "elastic-smoke"]))
        assert "does not know: nope-9" in line


def test_a_data_file_name_that_is_not_a_file_name_reads_nothing(shared_data):
    from bench.datasets.mdr import mdr_files
    from bench.datasets.reference import MalformedReferenceError

    with pytest.raises(MalformedReferenceError, match="not a plain file name"):
        mdr_files("mdr-pbe", "../../../etc/passwd", shared_data)


# --- order without clocks -----------------------------------------------------------------

FUTURE = "2099-01-01T00:00:00+00:00"


def _plain(material: str, status: str) -> dict:
    return {
        "model": "emt",
        "task": "elasticity",
        "dataset": "ds",
        "material_id": material,
        "settings_digest": "d0",
        "status": status,
        "error_type": None if status == "ok" else "DivergedError",
        "values": {"K_GPa": 1.0} if status == "ok" else None,
    }


@pytest.mark.parametrize("seq", [0, 1])  # written before seq existed, or by this version
def test_a_future_stamped_failure_is_replaced_by_the_retry(tmp_path, seq):
    from bench.run.store import Store

    skewed = {**_plain("mp-1", "failed"), "run_id": "skewed", "created_at": FUTURE, "seq": seq}
    with Store(tmp_path) as store:
        store.import_records([skewed, {**skewed, "material_id": "mp-2"}])
        run_id = store.start_run({"settings_digest": "d0"}, {})
        store.write(_plain("mp-1", "failed"), run_id)  # retried, failed again: the newer stands
        store.write(_plain("mp-2", "ok"), run_id)
        store.write(_plain("mp-2", "failed"), run_id)  # an ok is never lost to a failure
        rows = {r["material_id"]: r for r in store.raw_records()}
    assert rows["mp-1"]["run_id"] == run_id and rows["mp-1"]["seq"] == seq + 1
    assert rows["mp-2"]["status"] == "ok" and rows["mp-2"]["seq"] == seq + 1


def test_a_retry_replaces_a_future_stamped_failure_in_the_records(
    emt_records, shared_data, tmp_path, capsys
):
    """A node whose clock runs ahead pushed a failure dated 2099: the retry's ok is stored,
    pushed, and stands when the records are read."""
    from bench.run.records import read_group

    _, source, record = emt_records
    root = tmp_path / "records"
    folder = group_dir(root, *(record[k] for k in ("model", "task", "dataset", "settings_digest")))
    folder.mkdir(parents=True)
    (folder / "settings.json").write_bytes(
        (group_dir(source, *folder.relative_to(root).parts) / "settings.json").read_bytes()
    )
    failed = {**record, "status": "failed", "error_type": "DivergedError", "values": None}
    _write_part(folder, [{**failed, "created_at": FUTURE, "seq": 0}])
    argv = [*RUN, "--materials", "mp-10903", "--retry-failures", "--records", str(root)]
    assert main([*argv, "--out", str(tmp_path / "runs"), "--data-dir", str(shared_data)]) == 0
    assert "this run: 1 ok;" in capsys.readouterr().out
    assert read_group(folder)["mp-10903"]["status"] == "ok"
    assert len(list(folder.glob("part-*.jsonl.gz"))) == 2


# --- stores that are not what bench writes -----------------------------------------------


def test_a_store_without_seq_is_upgraded_and_read_as_it_was(tmp_path):
    from bench.run.schema import SCHEMA
    from bench.run.store import Store

    old = SCHEMA.replace(
        "    seq INTEGER NOT NULL DEFAULT 0, -- write sequence of the key (see supersedes)\n", ""
    )
    assert "seq INTEGER" not in old
    for name in ("ro", "rw"):
        (tmp_path / name).mkdir()
        with sqlite3.connect(tmp_path / name / "bench.sqlite") as con:
            con.executescript(old)
            row = (*_plain("mp-1", "failed").values(), None, None, None, None, None, "r", FUTURE)
            con.execute("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row[:15])
        con.close()
    with Store(tmp_path / "ro", read_only=True) as store:
        assert store.raw_records()[0]["seq"] == 0
    with Store(tmp_path / "rw") as store:
        store.write(_plain("mp-1", "failed"), store.start_run({"settings_digest": "d0"}, {}))
        assert store.raw_records()[0]["run_id"] != "r"


@pytest.mark.parametrize("kind", ["foreign", "older", "not sqlite"])
def test_a_database_that_is_not_a_bench_store_is_one_line_and_untouched(kind, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    path = out / "bench.sqlite"
    if kind == "not sqlite":
        path.write_bytes(b"not a database at all" * 50)
    else:
        with sqlite3.connect(path) as con:
            if kind == "foreign":
                con.execute("CREATE TABLE photos (id INTEGER, name TEXT)")
            else:
                con.execute("CREATE TABLE records (model TEXT, task TEXT, status TEXT)")
        con.close()
    before = path.read_bytes()
    for argv in (["summary", "--out", str(out)], [*RUN, "--out", str(out), "--limit", "1"]):
        line = _one_line(capsys, 1, main(argv))
        assert str(path) in line
    assert path.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["bench.sqlite"]


# --- records folders are checked on read ---------------------------------------------------


def _group(root: Path, record: dict) -> Path:
    return group_dir(root, *(record[k] for k in ("model", "task", "dataset", "settings_digest")))


def _truncate(folder: Path, record: dict) -> Path:
    (part,) = folder.glob("part-*.jsonl.gz")
    part.write_bytes(part.read_bytes()[:-12])
    return part


def _bad_json(folder: Path, record: dict) -> Path:
    return _raw_part(folder, b"{no")


def _raw_part(folder: Path, line: bytes) -> Path:
    path = folder / "part-2099-raw.jsonl.gz"
    path.write_bytes(gzip.compress(line + b"\n"))
    return path


def _other_digest(folder: Path, record: dict) -> Path:
    return _write_part(folder, [{**record, "settings_digest": "0123456789ab"}])


def _edited_settings(folder: Path, record: dict) -> Path:
    path = folder / "settings.json"
    settings = json.loads(path.read_text())
    path.write_text(json.dumps({**settings, "strain_max": 0.5}))
    return path


def _no_settings(folder: Path, record: dict) -> Path:
    (folder / "settings.json").unlink()
    return folder


def _bad_run(folder: Path, record: dict) -> Path:
    (path,) = (folder / "runs").glob("*.json")
    path.write_text("[1, 2")
    return path


def _nan_ok(folder: Path, record: dict) -> Path:
    path = folder / "part-2099-nan.jsonl.gz"
    line = json.dumps({**record, "values": {**record["values"], "K_GPa": float("nan")}})
    path.write_bytes(gzip.compress(line.encode()))
    return path


def _not_a_record(folder: Path, record: dict) -> Path:
    return _raw_part(folder, json.dumps({**record, "status": 3}).encode())


def _symlinked_group(folder: Path, record: dict) -> Path:
    real = folder.parent.parent.parent.parent.parent / "elsewhere"
    folder.rename(real)
    folder.symlink_to(real)
    return folder


DAMAGE = {
    "truncated part": _truncate,
    "bad JSON line": _bad_json,
    "part of another digest": _other_digest,
    "hand-edited settings.json": _edited_settings,
    "missing settings.json": _no_settings,
    "bad runs/*.json": _bad_run,
    "ok record with NaN": _nan_ok,
    "field of the wrong type": _not_a_record,
    "symlinked group folder": _symlinked_group,
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_records_folder_is_one_line_naming_the_file(
    case, emt_records, shared_data, tmp_path, capsys
):
    _, source, record = emt_records
    root = tmp_path / "records"
    _copy_tree(source, root)
    named = DAMAGE[case](_group(root, record), record)
    before = _snapshot(tmp_path)
    line = _one_line(capsys, 1, main(["summary", "--out", str(root)]))
    assert str(named) in line
    argv = [*RUN, "--materials", "mp-1031", "--records", str(root), "--out", str(tmp_path / "o")]
    line = _one_line(capsys, 1, main([*argv, "--data-dir", str(shared_data)]))
    assert str(named) in line
    after = _snapshot(tmp_path, tmp_path / "o")
    assert after == before  # records untouched, nothing pushed
    with sqlite3.connect(tmp_path / "o" / "bench.sqlite") as con:
        assert con.execute("SELECT count(*) FROM records").fetchone()[0] == 0  # nothing ran
    con.close()


def test_a_stale_temporary_part_is_removed_by_the_next_push(emt_records, shared_data, tmp_path):
    _, source, record = emt_records
    root = tmp_path / "records"
    _copy_tree(source, root)
    folder = _group(root, record)
    stale = folder / "part-20990101T000000Z-deadbeef.jsonl.gz.999999999.tmp"
    stale.write_bytes(b"half a part")
    argv = [*RUN, "--materials", "mp-1031", "--records", str(root), "--out", str(tmp_path / "o")]
    assert main([*argv, "--data-dir", str(shared_data)]) == 0
    assert not stale.exists() and len(list(folder.glob("part-*.jsonl.gz"))) == 2


# --- reference identity by content ---------------------------------------------------------


@pytest.mark.parametrize("same_content", [True, False])
def test_resume_compares_reference_files_by_content_not_name(
    same_content, emt_records, shared_data, tmp_path, capsys
):
    """Records made from a file of another name or layout (a published ``mp-111.yaml.bz2``
    against the packaged phonopy files): the same bytes resume, other bytes are refused."""
    import shutil

    out, _, _ = emt_records
    shutil.copytree(out, tmp_path / "runs")
    with sqlite3.connect(tmp_path / "runs" / "bench.sqlite") as con:
        for run_id, body in con.execute("SELECT run_id, manifest_json FROM runs").fetchall():
            manifest = json.loads(body)
            (sha,) = manifest["data_checksums"].values()
            renamed = {"elsewhere/another-layout.json.gz": sha if same_content else "0" * 64}
            manifest["data_checksums"] = renamed
            sql = "UPDATE runs SET manifest_json=? WHERE run_id=?"
            con.execute(sql, (json.dumps(manifest), run_id))
    con.close()
    argv = [*RUN, "--materials", "mp-10903,mp-1031", "--out", str(tmp_path / "runs")]
    code = main([*argv, "--data-dir", str(shared_data)])
    if same_content:
        assert code == 0
    else:
        assert "other reference data" in _one_line(capsys, 2, code)


# --- a material's failure is a record, whatever library raised it -----------------------


def _degenerate_cell(*args, **kwargs):
    """What spglib does with a reference cell of 1e-3 Å (its new error handling)."""
    import numpy as np
    import spglib

    previous = spglib.error.OLD_ERROR_HANDLING
    spglib.error.OLD_ERROR_HANDLING = False
    try:
        spglib.get_symmetry_dataset((np.eye(3) * 1e-3, [[0, 0, 0], [0.5, 0.5, 0.5]], [13, 13]))
    finally:
        spglib.error.OLD_ERROR_HANDLING = previous


def test_a_library_raising_on_a_material_is_that_materials_failure(
    shared_data, tmp_path, monkeypatch, capsys
):
    import bench.datasets
    from bench.run.store import Store

    real = bench.datasets.load_elastic_reference

    def reference(dataset, material_id, data_dir):
        if material_id == "mp-1031":
            _degenerate_cell()
        return real(dataset, material_id, data_dir)

    monkeypatch.setattr(bench.datasets, "load_elastic_reference", reference)
    argv = [*RUN, "--materials", "mp-1031,mp-10903", "--out", str(tmp_path)]
    assert main([*argv, "--data-dir", str(shared_data)]) == 0
    with Store(tmp_path) as store:
        rows = {r["material_id"]: r for r in store.raw_records()}
    assert rows["mp-1031"]["error_type"] == "SpglibCppError"
    assert rows["mp-10903"]["status"] == "ok"


def test_an_ok_record_with_a_nan_value_is_a_failure(shared_data, tmp_path, monkeypatch):
    from dataclasses import replace

    from bench.run.store import Store
    from bench.tasks import TASKS

    task = TASKS["elasticity"]

    def nan_values(*args):
        out = task.evaluate(*args)
        return {**out, "values": {**out["values"], "K_GPa": float("nan")}}

    monkeypatch.setitem(TASKS, "elasticity", replace(task, evaluate=nan_values))
    argv = [*RUN, "--materials", "mp-10903", "--out", str(tmp_path)]
    assert main([*argv, "--data-dir", str(shared_data)]) == 0
    with Store(tmp_path) as store:
        (row,) = store.raw_records()
    assert (row["status"], row["error_type"]) == ("failed", "NonFiniteError")
    assert "K_GPa" in row["error_message"]


# --- one validation layer: refused before anything runs ------------------------------------

REFUSED = {
    "--materials ''": ([*RUN, "--materials", ""], "--materials"),
    "--data-dir missing": ([*RUN, "--data-dir", "{tmp}/nowhere"], "--data-dir"),
    "--data-dir a file": ([*RUN, "--data-dir", "{file}"], "--data-dir"),
    "--scheduler, local": ([*RUN, "--scheduler", "tcp://h:8786"], "--scheduler"),
    "--threads 0": ([*RUN, "--threads", "0"], "--threads"),
    "--threads -3 --workers 2": ([*RUN, "--threads", "-3", "--workers", "2"], "--threads"),
    "--push-every nan": ([*RUN, "--push-every", "nan", "--records", "{tmp}/r"], "--push-every"),
    "--push-every -5": ([*RUN, "--push-every", "-5", "--records", "{tmp}/r"], "--push-every"),
    "--dtype ''": ([*RUN, "--dtype", ""], "--dtype"),
    "accept_fmax -1": ([*RUN, "--set", "relax.accept_fmax_eV_per_A=-1"], "accept_fmax_eV_per_A"),
    "mesh 0": ([*RUN, "--task", "phonons", "--set", "mesh=0"], "mesh"),
    "mesh -5": ([*RUN, "--task", "phonons", "--set", "mesh=-5"], "mesh"),
    "thz_to_K -1": ([*RUN, "--task", "phonons", "--set", "thz_to_K=-1"], "thz_to_K"),
    "--checkpoint with emt": ([*RUN, "--checkpoint", "{file}"], "--checkpoint"),
    "norm_strains []": ([*RUN, "--set", "norm_strains=[]"], "norm_strains"),
    "zero strains": ([*RUN, "--set", "norm_strains=[0, 0]"], "norm_strains"),
    "--material-timeout inf": ([*RUN, "--material-timeout", "inf"], "--material-timeout"),
    "--records a file": ([*RUN, "--records", "{file}"], "--records"),
    "table --data-dir missing": (
        ["table", "--runs", "{store}", "--out", "{tmp}/t", "--data-dir", "{tmp}/nowhere"],
        "--data-dir",
    ),
    "report --data-dir a file": (
        ["report", "--runs", "{store}", "--out", "{tmp}/s", "--data-dir", "{file}"],
        "--data-dir",
    ),
    "summary --dataset typo": (["summary", "--out", "{store}", "--dataset", "mdr-pb"], "--dataset"),
    "summary --model typo": (["summary", "--out", "{store}", "--model", "emtt"], "--model"),
    "export --dataset typo": (
        ["export", "--out", "{store}", "--dataset", "x", "--to", "{tmp}/r.csv"],
        "--dataset",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_option_is_refused_before_anything_runs(
    case, emt_records, shared_data, tmp_path, capsys
):
    argv, option = REFUSED[case]
    store, _, _ = emt_records
    (tmp_path / "a-file").write_text("x")
    names = {"tmp": tmp_path, "file": tmp_path / "a-file", "store": store}
    argv = [a.format(**names) for a in argv]
    if argv[0] == "run":
        argv += ["--out", str(tmp_path / "out")]
        if "--data-dir" not in argv:
            argv += ["--data-dir", str(shared_data)]
    before = _snapshot(tmp_path), _snapshot(store)
    line = _one_line(capsys, 2, main(argv))
    assert option in line, line
    assert (_snapshot(tmp_path), _snapshot(store)) == before
    for name in ("out", "r.csv", "t", "s"):
        assert not (tmp_path / name).exists()


def test_the_python_api_refuses_the_same_options():
    from bench.errors import ConfigurationError
    from bench.physics.elasticity import ElasticSettings
    from bench.run.config import RunConfig
    from bench.settings import PhononSettings

    with pytest.raises(ConfigurationError, match="--threads"):
        RunConfig(model="emt", threads=0)
    with pytest.raises(ConfigurationError, match="--materials"):
        RunConfig(model="emt", materials=())
    with pytest.raises(ValueError, match="mesh"):
        PhononSettings(mesh=0.0)
    with pytest.raises(ValueError, match="norm_strains"):
        ElasticSettings(norm_strains=())


# --- signals and pushes --------------------------------------------------------------------


def test_a_failing_periodic_push_warns_and_is_retried_at_the_end(
    shared_data, tmp_path, monkeypatch, capsys
):
    import bench.run.runner as runner
    from bench.run.records import read_group

    real, calls = runner.push, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:  # the records folder was read-only for a while
            raise OSError(30, "Read-only file system")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "push", flaky)
    root = tmp_path / "records"
    argv = [*RUN, "--limit", "3", "--records", str(root), "--push-every", "0"]
    line = _one_line(
        capsys, 0, main([*argv, "--out", str(tmp_path / "o"), "--data-dir", str(shared_data)])
    )
    assert "retried at the end" in line
    (part,) = root.rglob("part-*.jsonl.gz")
    assert len(read_group(part.parent)) == 3


def test_two_sigints_in_a_row_stop_quietly(shared_data, tmp_path):
    """Ctrl-C pressed twice (20 ms apart) on a two-worker run pushing to records: exit 130,
    one line, no traceback, no claim left, the finished materials pushed."""
    import signal
    import subprocess
    import sys
    import time

    from bench.run.records import read_group

    out, root = tmp_path / "store", tmp_path / "records"
    argv = [sys.executable, "-m", "bench.cli", *RUN, "--workers", "2", "--threads", "1"]
    argv += ["--out", str(out), "--records", str(root), "--data-dir", str(shared_data)]
    env = {**os.environ, "BENCH_TEST_SLOW_S": "1"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with sqlite3.connect(out / "bench.sqlite") as con:
                if con.execute("SELECT count(*) FROM records").fetchone()[0] >= 1:
                    break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and len(err.decode().strip().splitlines()) == 1, err
    with sqlite3.connect(out / "bench.sqlite") as con:
        n = con.execute("SELECT count(*) FROM records").fetchone()[0]
        assert con.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
    (group,) = {p.parent for p in root.rglob("part-*.jsonl.gz")}
    assert len(read_group(group)) == n


# --- reports go on past damage ---------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "wrong shape"])
def test_a_damaged_kept_artifact_is_a_note_not_an_abort(damage, tmp_path):
    import numpy as np
    import pandas as pd

    from bench.report.site_materials import Material, bands_html
    from bench.run.artifacts import save_artifacts

    record = {"model": "emt", "task": "phonons", "dataset": "mdr-pbe", "settings_digest": "d"}
    record |= {"material_id": "mp-1", "artifacts": {"force_constants": {"fc": np.ones((2, 2))}}}
    paths = save_artifacts(tmp_path, record)
    path = tmp_path / paths["force_constants"]
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    details = json.dumps({"artifacts": paths})
    records = pd.DataFrame([{"model": "emt", "status": "ok", "details_json": details}])
    material = Material("mdr-pbe", "mp-1", None, None, "")
    html = str(bands_html(material, records, [tmp_path]))
    assert "No force constants for" in html and "emt" in html


def test_table_of_a_full_mdr_subset_reads_the_data_dir_it_is_given(
    emt_records, tmp_path, monkeypatch, capsys
):
    """A data directory made of the packaged mdr-smoke files (a bare clone has no
    ../shared): mdr-full is what the directory holds."""
    _, root, _ = emt_records
    data = tmp_path / "data"
    _copy_tree(embedded_dir() / "mdr", data / "mdr")
    monkeypatch.delenv("BENCH_DATA", raising=False)
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    argv = ["table", "--runs", str(root), "--out", str(tmp_path / "t"), "--quiet"]
    argv += ["--phonon-subset", "mdr-full", "--data-dir", str(data), "--recorded-only"]
    _one_line(capsys, 0, main(argv))


def test_an_interrupted_export_keeps_the_previous_file(emt_records, tmp_path, monkeypatch):
    import pandas as pd

    store, _, _ = emt_records
    target = tmp_path / "r.csv"
    assert main(["export", "--out", str(store), "--to", str(target)]) == 0
    good = target.read_bytes()

    def half_then_ctrl_c(self, path, **kwargs):
        Path(path).write_text("model,ta")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_ctrl_c)
    assert main(["export", "--out", str(store), "--to", str(target)]) == 130
    assert target.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_a_bug_names_the_debug_option_once(shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_TEST_BUG_ON", "mp-10903")
    argv = [*RUN, "--materials", "mp-10903", "--out", str(tmp_path)]
    line = _one_line(capsys, 1, main([*argv, "--data-dir", str(shared_data)]))
    assert line.count("--debug") == 1 and "a bug in bench?" in line


def test_a_final_push_that_fails_is_one_line_saying_where_the_records_are(
    shared_data, tmp_path, capsys
):
    from bench.run.store import Store

    root = tmp_path / "records"
    root.mkdir()
    (root / "emt").write_text("a file where the model's folder would go")
    argv = [*RUN, "--materials", "mp-10903", "--records", str(root), "--out", str(tmp_path / "o")]
    line = _one_line(capsys, 1, main([*argv, "--data-dir", str(shared_data)]))
    assert "could not push" in line and "bench records push" in line
    with Store(tmp_path / "o") as store:
        assert [r["status"] for r in store.raw_records()] == ["ok"]  # computed and kept
