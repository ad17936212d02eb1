"""The store is bench's alone (issue 34): marked, and checked with its -wal and -shm before it
is opened; a foreign log is never applied, a foreign or damaged store is one line naming the
file, and nothing in it changes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import RecordsError
from bench.run.store import Store
from bench.run.storefile import APPLICATION_ID, USER_VERSION
from tests.test_trust import RUN, _one_line, _plain


def _bench_store(folder: Path, n: int = 20) -> Path:
    """A store of ``n`` records (written through bench, closed: no -wal left)."""
    with Store(folder) as store:
        run_id = store.start_run({"settings_digest": "d0"}, {})
        for i in range(n):
            store.write(_plain(f"mp-{i}", "ok"), run_id)
    return folder / "bench.sqlite"


def _count(path: Path) -> int:
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True) as con:
        return con.execute("SELECT count(*) FROM records").fetchone()[0]


def _foreign_wal(scratch: Path, touch_page_one: bool = True) -> bytes:
    """The write-ahead log of another SQLite database (a photo catalogue), as it is while that
    database is open: with its first page (a new table) or only a data page."""
    scratch.mkdir()
    con = sqlite3.connect(scratch / "photos.db")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE photos (id INTEGER, name TEXT)")
    con.executemany("INSERT INTO photos VALUES (?, ?)", [(i, "x" * 300) for i in range(40)])
    con.commit()
    if not touch_page_one:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("UPDATE photos SET name='y' WHERE id=3")
        con.commit()
    wal = (scratch / "photos.db-wal").read_bytes()
    con.close()
    return wal


def test_a_store_is_marked_and_an_earlier_benchs_is_marked_on_first_write(tmp_path):
    path = _bench_store(tmp_path / "new", 1)
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert con.execute("PRAGMA user_version").fetchone()[0] == USER_VERSION
    con.close()
    old = tmp_path / "old" / "bench.sqlite"
    path.parent.rename(old.parent)
    with sqlite3.connect(old) as con:  # as an earlier bench left it: no mark
        con.execute("PRAGMA application_id=0")
        con.execute("PRAGMA user_version=0")
    con.close()
    with Store(old.parent, read_only=True) as store:  # read: opens, nothing written
        assert len(store.raw_records()) == 1
    with sqlite3.connect(old) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0
    con.close()
    Store(old.parent).close()
    with sqlite3.connect(old) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    con.close()


@pytest.mark.parametrize("page_one", [True, False], ids=["new-table", "data-page"])
def test_a_foreign_wal_is_named_by_readers_and_set_aside_by_a_run(
    page_one, shared_data, tmp_path, capsys
):
    out = tmp_path / "out"
    path = _bench_store(out)
    wal = out / "bench.sqlite-wal"
    wal.write_bytes(_foreign_wal(tmp_path / "other", page_one))
    before = (path.read_bytes(), wal.read_bytes())
    for argv in (
        ["summary", "--out", str(out)],
        ["export", "--out", str(out), "--to", str(tmp_path / "r.csv")],
        ["records", "push", "--out", str(out), "--to", str(tmp_path / "records")],
    ):
        line = _one_line(capsys, 1, main(argv))
        assert f"{wal}: a write-ahead log that is not this store's" in line, line
        assert "older bench" not in line
        assert (path.read_bytes(), wal.read_bytes()) == before
    argv = [*RUN, "--materials", "mp-10903", "--out", str(out), "--data-dir", str(shared_data)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "not applied, moved aside" in err and str(wal) in err
    (aside,) = out.glob("bench.sqlite-wal.foreign-*")
    assert aside.read_bytes() == before[1]
    assert _count(path) == 21  # the 20 records kept, the run's added
    with Store(out, read_only=True) as store:
        assert {f"mp-{i}" for i in range(20)} <= {r["material_id"] for r in store.raw_records()}


def test_the_stores_own_wal_after_a_kill_is_applied(tmp_path):
    out = tmp_path / "out"
    _bench_store(out, 3)
    code = (
        "import os, sys; from bench.run.store import Store; from tests.test_trust import _plain\n"
        "s = Store(sys.argv[1]); r = s.start_run({'settings_digest': 'd0'}, {})\n"
        "s.write(_plain('mp-killed', 'ok'), r); os._exit(9)\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    subprocess.run([sys.executable, "-c", code, str(out)], cwd=root, env=env, check=False)
    assert (out / "bench.sqlite-wal").stat().st_size > 0
    for _ in range(2):  # a reader, then a writer: the log is the store's
        with Store(out, read_only=True) as store:
            assert len(store.raw_records()) == 4
        Store(out).close()
    assert not list(out.glob("*.foreign-*"))


def _folder(path: Path) -> None:
    path.mkdir()


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _other_app(path: Path) -> None:
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA application_id=1196310856")  # another program's mark
        con.execute("CREATE TABLE records (model TEXT)")
    con.close()


@pytest.mark.parametrize("make", [_folder, _empty, _fifo, _other_app])
def test_a_foreign_or_damaged_store_is_one_line_naming_it(make, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    path = out / "bench.sqlite"
    make(path)
    before = sorted((p.name, p.is_file() and p.read_bytes()) for p in out.iterdir())
    for argv in (["summary", "--out", str(out)], [*RUN, "--out", str(out), "--limit", "1"]):
        line = _one_line(capsys, 1, main(argv))
        assert str(path) in line, line
    assert sorted((p.name, p.is_file() and p.read_bytes()) for p in out.iterdir()) == before


@pytest.mark.parametrize("side", ["-wal", "-shm"])
def test_a_wal_or_shm_that_is_not_a_file_is_refused(side, tmp_path, capsys):
    out = tmp_path / "out"
    _bench_store(out, 1)
    os.mkfifo(out / f"bench.sqlite{side}")
    line = _one_line(capsys, 1, main(["summary", "--out", str(out)]))
    assert f"bench.sqlite{side}: not a regular file" in line


def test_a_store_that_cannot_be_written_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    """A read-only store or a full disk (simulated: root writes a chmod 444 file)."""
    out = tmp_path / "out"
    path = _bench_store(out, 1)
    real = sqlite3.connect

    def read_only(database, *args, **kwargs):  # what SQLite says of a read-only file
        if str(database) == str(path):
            return real(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        return real(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    line = _one_line(capsys, 1, main([*RUN, "--out", str(out), "--limit", "1"]))
    assert str(path) in line and "cannot be written" in line and "readonly" in line
    monkeypatch.setattr(sqlite3, "connect", real)

    class Full:  # a connection on a full disk: every write fails as SQLite's does
        def __enter__(self):
            raise sqlite3.OperationalError("database or disk is full")

        def __exit__(self, *exc):
            return False

        def close(self):
            pass

    store = Store(out)
    store._con.close()
    store._con = Full()
    with pytest.raises(RecordsError, match=r"cannot be written \(database or disk is full") as err:
        store.start_run({"settings_digest": "d1"}, {})
    assert str(err.value).startswith(f"{path}: ")
    assert _count(path) == 1


def test_a_new_store_is_never_seen_empty(tmp_path):
    Store(tmp_path / "a").close()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["bench.sqlite"]
    info = (tmp_path / "a" / "bench.sqlite").stat()
    umask = os.umask(0)
    os.umask(umask)
    assert info.st_size > 0 and info.st_mode & 0o777 == 0o666 & ~umask  # as SQLite makes it


def test_records_push_to_the_stores_own_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    _bench_store(out, 1)
    before = sorted(p.name for p in out.iterdir())
    line = _one_line(capsys, 2, main(["records", "push", "--out", str(out), "--to", str(out)]))
    assert "holds a results store" in line
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize("kind", ["file", "fifo"])
def test_bench_data_that_is_not_a_folder_is_one_line(kind, tmp_path, monkeypatch, capsys):
    target = tmp_path / "data"
    if kind == "file":
        target.write_text("not a folder")
    else:
        os.mkfifo(target)
    monkeypatch.setenv("BENCH_DATA", str(target))
    line = _one_line(capsys, 2, main([*RUN, "--out", str(tmp_path / "o"), "--limit", "1"]))
    assert f"$BENCH_DATA '{target}' is not a folder" in line
    assert not (tmp_path / "o").exists()


def test_a_full_disk_while_writing_a_file_names_it(tmp_path, monkeypatch, capsys):
    import errno

    import pandas as pd

    out = tmp_path / "out"
    _bench_store(out, 2)

    def full(self, path, **kwargs):  # as a full disk fails a write: no file name
        Path(path).write_text("model,ta")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    target = tmp_path / "r.csv"
    line = _one_line(capsys, 1, main(["export", "--out", str(out), "--to", str(target)]))
    assert line == f"bench: error: No space left on device: {target}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
