"""The store file is bench's alone: its mark, and what is checked before SQLite opens it.

bench marks ``bench.sqlite`` with ``PRAGMA application_id`` (:data:`APPLICATION_ID`) and
``user_version`` (:data:`USER_VERSION`, the layout) when it opens it for writing; a store of
an earlier bench (no mark) still opens, and is marked then. Before any connection:

- ``bench.sqlite`` must be a regular, non-empty SQLite file with bench's mark or none (an
  empty file, a folder, another application's database is refused, naming the file);
- ``-wal`` and ``-shm`` beside it must be regular files;
- a ``-wal`` must be bench's: SQLite applies any write-ahead log it finds, and a writer's
  close copies it into the database, so one from another database would replace the
  records. The log is read without being applied (a read-only connection never writes it
  back): it must have the database's page size, and the database it makes must still be a
  bench store, whole (``integrity_check``). One that is not is moved aside
  (``bench.sqlite-wal.foreign-<UTC time>``, with the ``-shm`` index) by a writer, with a
  warning; a reader refuses, naming it. Nothing else is changed.

The checks read the files with plain ``open``/``close``: only while this process holds no
connection to the store (:mod:`bench.run.storeconn`, which makes them). A log another process
holds the database open beside (a lock on SQLite's lock bytes, asked with ``F_GETLK``, which
takes none) is SQLite's live log: not checked, never moved.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import struct
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bench.errors import RecordsError, warn

#: ``PRAGMA application_id`` of a bench store ("bnch")
APPLICATION_ID = 0x626E6368
#: ``PRAGMA user_version``: the store's layout (2: records with ``seq``)
USER_VERSION = 2
_SQLITE_MAGIC = b"SQLite format 3\x00"
_WAL_MAGIC = (0x377F0682, 0x377F0683)
#: (store, log header) whose log this process found bench's: checked once
_CHECKED: set[tuple[str, bytes]] = set()
#: SQLite's lock bytes in a database file (os_unix.c: PENDING_BYTE, RESERVED, SHARED range)
_LOCK_START, _LOCK_LEN = 0x40000000, 512


def locked_elsewhere(path: Path) -> bool:
    """Whether another process holds a lock on SQLite's lock bytes of the database ``path``
    (a live connection: in WAL mode each keeps a shared lock); False where it cannot be
    asked (``F_GETLK``'s layout is known here for Linux only). Call only while this process
    holds no connection to ``path``: closing the descriptor drops the process's locks."""
    if not sys.platform.startswith("linux"):
        return False
    import fcntl

    layout = "hhqqi4x"  # struct flock: l_type, l_whence, l_start, l_len, l_pid
    query = struct.pack(layout, fcntl.F_WRLCK, os.SEEK_SET, _LOCK_START, _LOCK_LEN, 0)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    finally:
        os.close(fd)
    return struct.unpack(layout, answer)[0] != fcntl.F_UNLCK


def _head(path: Path, size: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def check_store_file(path: Path, writable: bool) -> bool:
    """Whether ``path`` exists; RecordsError naming the file unless it is a bench store or an
    earlier bench's (writable, when ``writable``); a foreign ``-wal`` moved aside
    (``writable``) or refused."""
    for side in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = os.stat(side).st_mode
        except FileNotFoundError:
            continue
        except OSError as err:
            raise RecordsError(f"{side}: {err.strerror}") from err
        if stat.S_ISDIR(mode):
            raise RecordsError(f"{side}: a folder, not a file of a bench store")
        if not stat.S_ISREG(mode):
            raise RecordsError(f"{side}: not a regular file (a FIFO, device or socket)")
    if not path.exists():
        return False
    if writable and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        raise RecordsError(f"{path}: read-only (the file or its folder); use another --out")
    header = _head(path, 100)
    if not header:  # bench never leaves one (create_store)
        raise RecordsError(
            f"{path}: an empty file, not a bench store (remove it, or use another --out)"
        )
    if not header.startswith(_SQLITE_MAGIC) or len(header) < 100:
        raise RecordsError(f"{path}: not a database (not a bench store)")
    app = int.from_bytes(header[68:72], "big")
    if app not in (0, APPLICATION_ID):
        raise RecordsError(
            f"{path}: a database of another application (application_id {app:#x}), "
            "not a bench store"
        )
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        _check_wal(path, wal, header, writable)
    return True


def create_store(path: Path, schema: str) -> None:
    """Make a new store at ``path`` whole (tables, mark) beside it, then link it into place:
    no one ever sees it empty or half made (another run making it at once wins; kept)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.new")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # as SQLite makes it
    try:
        con = sqlite3.connect(tmp)
        try:
            con.executescript(schema)
            mark(con, path)
        finally:
            con.close()
        try:
            os.link(tmp, path)
        except FileExistsError:  # another run made it first: theirs stands
            pass
        except OSError:  # a file system without hard links: a rename, unless one is there
            if not os.path.lexists(path):
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def writing(con: sqlite3.Connection, path: Path | None) -> Iterator[None]:
    """A transaction on ``con``; its failure to write (read-only, disk full) a RecordsError
    naming the store ``path`` (a lock still the caller's to wait for)."""
    try:
        with con:
            yield
    except sqlite3.OperationalError as err:
        if path is None or "locked" in str(err):
            raise
        raise RecordsError(f"{path}: cannot be written ({err})") from err


def _check_wal(path: Path, wal: Path, header: bytes, writable: bool) -> None:
    head = _head(wal, 32)
    key = (str(path.resolve()), head)
    if key in _CHECKED or locked_elsewhere(path):  # checked, or in use by a live SQLite
        return
    problem = _wal_problem(path, head, header)
    if problem is None:
        _CHECKED.add(key)
        return
    alone = _alone_problem(path)
    if alone:  # the database itself is not bench's: refused as it is, the log left alone
        raise RecordsError(f"{path}: {alone}")
    if not writable:
        raise RecordsError(
            f"{wal}: a write-ahead log that is not this store's ({problem}); not applied: "
            "move it away (a bench run on this folder moves it aside)"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for side in (wal, path.with_name(path.name + "-shm")):
        if side.exists():
            aside = side.with_name(f"{side.name}.foreign-{stamp}")
            os.replace(side, aside)
            moved.append(aside.name)
    warn(
        f"{wal}: a write-ahead log that is not this store's ({problem}); not applied, moved "
        f"aside to {' and '.join(moved)}"
    )


def _wal_problem(path: Path, head: bytes, header: bytes) -> str | None:
    """Why the log beside ``path`` is not the store's, or None (read, never applied)."""
    if len(head) < 32 or int.from_bytes(head[:4], "big") not in _WAL_MAGIC:
        return "not a write-ahead log"
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    if int.from_bytes(head[8:12], "big") != page:
        return f"page size {int.from_bytes(head[8:12], 'big')}, the database's is {page}"
    if path.with_name(path.name + "-shm").exists():  # read in place: a writer may be live
        return _combined_problem(path, int.from_bytes(header[68:72], "big"))
    with tempfile.TemporaryDirectory(prefix="bench-wal-") as scratch:  # no writer: a copy
        copy = Path(scratch) / path.name
        shutil.copyfile(path, copy)
        shutil.copyfile(path.with_name(path.name + "-wal"), copy.with_name(copy.name + "-wal"))
        return _combined_problem(copy, int.from_bytes(header[68:72], "big"))


def _combined_problem(path: Path, ours: int) -> str | None:
    """Why the database ``path`` with its log is not a whole bench store (application
    ``ours`` in the file), or None; read-only: the log is never written back."""
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60.0)
    except sqlite3.Error as err:
        raise RecordsError(f"{path}: cannot be read ({err})") from err
    try:
        app = con.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        check = con.execute("PRAGMA integrity_check(1)").fetchone()[0]
    except sqlite3.OperationalError as err:
        if "locked" in str(err) or "unable to open" in str(err):
            raise RecordsError(f"{path}: cannot be read ({err})") from err
        return f"with it the store cannot be read: {err}"
    except sqlite3.DatabaseError as err:
        return f"with it the store cannot be read: {err}"
    finally:
        con.close()
    if tables and "records" not in tables:
        return f"it belongs to another database: tables {', '.join(sorted(tables))}"
    if app != ours and (app != APPLICATION_ID or ours != 0):
        return f"it belongs to another database: application_id {app:#x}"
    if check != "ok":
        return f"applied, it damages the store: {check}"
    return None


def _alone_problem(path: Path) -> str | None:
    """What is wrong with the database file read without its log, or None."""
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            con.close()
    except sqlite3.DatabaseError as err:
        return f"not a database ({err})"
    if tables and "records" not in tables:
        return f"a database, but not a bench store (tables: {', '.join(sorted(tables))})"
    return None


def mark(con: sqlite3.Connection, path: Path | None) -> None:
    """Mark a store opened for writing as bench's (an earlier bench's store on its first
    write); RecordsError for a store of a newer layout than this bench writes."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version > USER_VERSION:
        raise RecordsError(
            f"{path}: a store of a newer bench (layout {version}; this bench writes "
            f"{USER_VERSION}): use that bench, or another --out"
        )
    app = con.execute("PRAGMA application_id").fetchone()[0]
    if app != APPLICATION_ID or version != USER_VERSION:
        con.execute(f"PRAGMA application_id={APPLICATION_ID}")
        con.execute(f"PRAGMA user_version={USER_VERSION}")
        con.commit()
