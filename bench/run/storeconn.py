"""Connections to a store, made so that its files are checked without cancelling SQLite's locks.

:mod:`bench.run.storefile` checks a store's files with plain ``open``/``close``, and closing any
descriptor of a file cancels every POSIX lock the process holds on it, SQLite's own
(sqlite.org/howtocorrupt §2.2). A process holding a connection would lose its shared lock, and
another process closing its connection would then believe itself the last one and checkpoint
and delete the ``-wal`` and ``-shm`` in use (seen here: a run's heartbeat reopened the store
just as a second run on it ended, and the store's log was lost). So every connection is made
here: the files are checked only while this process holds none to that store, under one
process lock, and each connection is kept with its store until closed.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from bench.run.storefile import check_store_file, create_store

#: the store (resolved path) of each connection this process holds open, by id, as resolved
#: when it was made (a later ``chdir`` does not change it), and the lock under which
#: connections are checked, made and closed
_KEYS: dict[int, str] = {}
_LIVE_LOCK = threading.RLock()


def connections(path: Path) -> int:
    """How many connections this process holds open to the store ``path``."""
    key = str(path.resolve())
    with _LIVE_LOCK:
        return sum(held == key for held in _KEYS.values())


def open_connection(path: Path, writable: bool, schema: str = "") -> sqlite3.Connection:
    """A connection to the store ``path`` (made with ``schema`` when missing and
    ``writable``), its files checked first unless this process already holds one to it."""
    key = str(path.resolve())
    with _LIVE_LOCK:
        if key not in _KEYS.values():
            exists = check_store_file(path, writable)
            if writable and not exists:
                create_store(path, schema)
        if writable:
            con = sqlite3.connect(path, timeout=60.0)
        else:  # no -wal file: no writer is open, so read it as immutable (creates no
            # -shm/-wal, works in a read-only folder); else read-only beside the live writer
            live = path.with_name(path.name + "-wal").exists()
            query = "mode=ro" if live else "mode=ro&immutable=1"
            con = sqlite3.connect(f"{path.resolve().as_uri()}?{query}", uri=True)
        _KEYS[id(con)] = key
    return con


def close_connection(con: sqlite3.Connection) -> None:
    """Close ``con`` (a connection :func:`open_connection` made, or any other)."""
    with _LIVE_LOCK:
        con.close()
        _KEYS.pop(id(con), None)
