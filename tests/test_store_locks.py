"""A store's files are checked without cancelling SQLite's locks (sqlite.org/howtocorrupt §2.2):
a second connection in a process that holds one (a run's heartbeat) must not let another
process believe itself the last and delete the log in use; a log another process holds open
is SQLite's, never checked or moved aside."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from bench.errors import RecordsError
from bench.run import storeconn, storefile
from bench.run.store import Store
from tests.test_trust import _plain

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="POSIX lock queries are asked on Linux"
)


def _in_child(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def test_a_second_connection_keeps_the_processs_locks(tmp_path):
    wal, shm = tmp_path / "bench.sqlite-wal", tmp_path / "bench.sqlite-shm"
    other = f"from bench.run.store import Store\nwith Store({str(tmp_path)!r}): pass"
    with Store(tmp_path) as first:
        run_id = first.start_run({"settings_digest": "d0"}, {})
        first.write(_plain("mp-1", "ok"), run_id)
        with Store(tmp_path), Store(tmp_path, read_only=True):  # a heartbeat, a report
            pass
        subprocess.run([sys.executable, "-c", other], check=True)
        # the other process was not the last connection: the log and its index stay
        assert wal.exists() and shm.exists()
        first.write(_plain("mp-2", "ok"), run_id)
    with Store(tmp_path, read_only=True) as store:
        assert sorted(store.records()["material_id"]) == ["mp-1", "mp-2"]
    assert not wal.exists()  # the last connection, this one, checkpointed and removed it


def test_a_log_another_process_holds_open_is_not_checked_or_moved(tmp_path, monkeypatch):
    path = tmp_path / "bench.sqlite"
    with Store(tmp_path):
        pass
    holder = _in_child(
        "import sys\nfrom bench.run.store import Store\n"
        f"with Store({str(tmp_path)!r}) as s:\n"
        "    s.start_run({'settings_digest': 'd0'}, {})\n"
        "    print('open', flush=True)\n"
        "    sys.stdin.readline()\n"
    )
    try:
        # its run written: the log exists (it holds the database open from its first read,
        # before it writes, so the lock alone is no sign the log is there yet)
        assert holder.stdout.readline() == "open\n"
        assert storefile.locked_elsewhere(path)
        checked = []
        monkeypatch.setattr(
            storefile, "_wal_problem", lambda *a: checked.append(a) or "judged foreign"
        )
        with Store(tmp_path) as store:
            assert len(store.manifests()) == 1
        assert checked == []
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "bench.sqlite",
            "bench.sqlite-shm",
            "bench.sqlite-wal",
        ]
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0
    assert storefile.locked_elsewhere(path) is False


def test_open_connections_are_counted_until_closed(tmp_path, monkeypatch):
    store = tmp_path / "bench.sqlite"
    monkeypatch.chdir(tmp_path)
    with Store("."):
        monkeypatch.chdir(tmp_path.parent)  # a relative --out, then a chdir: the same count
    assert storeconn.connections(store) == 0
    with Store(tmp_path):
        with Store(tmp_path, read_only=True):
            assert storeconn.connections(store) == 2
        assert storeconn.connections(store) == 1
    assert storeconn.connections(store) == 0
    other = tmp_path / "other"  # another application's database: refused after it is opened
    other.mkdir()
    sqlite3.connect(other / "bench.sqlite").execute("CREATE TABLE photos (id)").connection.close()
    with pytest.raises(RecordsError):
        Store(other)
    assert storeconn.connections(other / "bench.sqlite") == 0
