"""The store's SQLite schema, its check on open, and the rule of which record stands.

Which record of a key stands (:func:`supersedes`) never reads a clock: status first (ok >
not_converged > any failure), then ``seq``, the write sequence of the key: a record written
over another gets the other's ``seq`` + 1, so a retry's record follows the one it retried
however the machines' clocks are set. ``created_at`` (the writer's clock) is shown, and
orders only records written before ``seq`` existed (``seq`` 0).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bench.errors import RecordsError

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    dataset TEXT NOT NULL,
    material_id TEXT NOT NULL,
    settings_digest TEXT NOT NULL,
    status TEXT NOT NULL,            -- ok | failed | not_converged | timeout
    error_type TEXT,
    error_message TEXT,
    values_json TEXT,               -- model values
    ref_json TEXT,                  -- reference (DFT) values
    details_json TEXT,              -- diagnostics (relaxation, thermal series, sizes)
    timings_json TEXT,              -- wall-time split, s (phonons: relax, forces, phonopy)
    wall_s REAL,
    run_id TEXT NOT NULL,
    created_at TEXT NOT NULL,       -- the writer's clock (shown; orders only seq-0 records)
    seq INTEGER NOT NULL DEFAULT 0, -- write sequence of the key (see supersedes)
    PRIMARY KEY (model, task, dataset, material_id, settings_digest)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    manifest_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS claims (   -- materials a live run is evaluating now
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    dataset TEXT NOT NULL,
    material_id TEXT NOT NULL,
    settings_digest TEXT NOT NULL,
    owner TEXT NOT NULL,             -- run id
    heartbeat REAL NOT NULL,         -- unix time the owner last said it is alive
    host TEXT NOT NULL,              -- the owner's machine and process: a dead process on
    pid INTEGER NOT NULL,            -- this machine frees its claims at once
    PRIMARY KEY (model, task, dataset, material_id, settings_digest)
);
CREATE TABLE IF NOT EXISTS settings (
    settings_digest TEXT PRIMARY KEY,
    settings_json TEXT NOT NULL
);
"""

COLUMNS = (
    "model",
    "task",
    "dataset",
    "material_id",
    "settings_digest",
    "status",
    "error_type",
    "error_message",
    "values_json",
    "ref_json",
    "details_json",
    "timings_json",
    "wall_s",
    "run_id",
    "created_at",
    "seq",
)
KEY = COLUMNS[:5]
#: JSON columns and the record fields they hold
JSON_FIELDS = {
    "values_json": "values",
    "ref_json": "ref",
    "details_json": "details",
    "timings_json": "timings_s",
}
#: how good a status is; a record replaces another of the same key only if it ranks as high
STATUS_RANK = {"ok": 2, "not_converged": 1}
_RANK = "CASE {0}.status WHEN 'ok' THEN 2 WHEN 'not_converged' THEN 1 ELSE 0 END"
_ORDER = "({r}, {t}.seq, CASE WHEN {t}.seq > 0 THEN '' ELSE {t}.created_at END)"
#: SQL of :func:`supersedes` for an upsert (``excluded`` over ``records``)
SUPERSEDES_SQL = (
    _ORDER.format(r=_RANK.format("excluded"), t="excluded")
    + " >= "
    + _ORDER.format(r=_RANK.format("records"), t="records")
)


def rank(status: str) -> int:
    """2 for ok, 1 for not_converged, 0 for every failure."""
    return STATUS_RANK.get(status, 0)


def order_key(record: Mapping[str, Any]) -> tuple[int, int, str]:
    """(status rank, seq, created_at only for seq 0): the larger stands."""
    seq = int(record.get("seq") or 0)
    return rank(record["status"]), seq, "" if seq else str(record.get("created_at") or "")


def supersedes(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Whether ``new`` replaces ``old`` (same key): at least as good, and written after it
    (a higher ``seq``; equal: the later arrival)."""
    return order_key(new) >= order_key(old)


def check_schema(con: sqlite3.Connection, path: Path | None, writable: bool) -> bool:
    """Check that ``con`` is a bench store (or empty); add ``seq`` to a store written before it
    (when ``writable``). Returns whether the records table has ``seq``. RecordsError naming
    ``path`` for a file that is not a database, a database that is not bench's, or a store
    of an older layout."""
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        have = [r[1] for r in con.execute("PRAGMA table_info(records)")]
    except sqlite3.DatabaseError as err:
        raise RecordsError(f"{path}: not a database ({err})") from err
    if tables and "records" not in tables:
        raise RecordsError(
            f"{path} is a database, but not a bench store (tables: {', '.join(sorted(tables))})"
        )
    missing = [c for c in COLUMNS if c != "seq" and have and c not in have]
    if missing:
        raise RecordsError(
            f"{path} is a store of an older bench (no column {', '.join(missing)}): "
            "use another --out"
        )
    if have and "seq" not in have and writable:
        if (
            "claims" in tables
            and con.execute(
                "SELECT count(*) FROM claims WHERE heartbeat > ?", (time.time() - 300.0,)
            ).fetchone()[0]
        ):  # an older bench writes 15 columns: adding one would stop it
            raise RecordsError(
                f"{path} is being written by a run of an older bench (live claims): "
                "let it finish, then run again"
            )
        with con:
            con.execute("ALTER TABLE records ADD COLUMN seq INTEGER NOT NULL DEFAULT 0")
        return True
    return not have or "seq" in have


def where_sql(where: dict[str, str | Iterable[str] | None]) -> tuple[str, list[str]]:
    """`` WHERE col IN (...) AND ...`` for the non-None filters, and its parameters."""
    clauses, params = [], []
    for column, value in where.items():
        if value is None:
            continue
        if column not in COLUMNS:
            raise ValueError(f"unknown record column {column!r}")
        values = [value] if isinstance(value, str) else list(value)
        clauses.append(f"{column} IN ({','.join('?' * len(values))})")
        params.extend(values)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def details_of(details_json: str | None) -> dict[str, Any]:
    """A record's ``details_json`` column as a dict: ``{}`` for a record without details (SQL
    NULL, or JSON ``null`` as a worker that died leaves)."""
    return json.loads(details_json or "null") or {}
