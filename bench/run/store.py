"""Result store: one SQLite file per results directory.

One row per (model, task, dataset, material, settings digest), committed as each material
finishes, so a crash loses at most the materials in flight. A changed setting has a new digest
and so new rows. A row is replaced only by a record of the same key that is at least as good
and written after it (:func:`bench.run.schema.supersedes`: status, then the key's write
sequence, never a clock), so a retried failure can become ok but an ok result is never lost to
a later failure. Each run also stores its manifest (versions, checkpoint and data checksums,
git commit). The schema and its check on open: :mod:`bench.run.schema`.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import ConfigurationError, RecordsError
from bench.run.atomic import process_alive
from bench.run.export import flatten
from bench.run.schema import (
    COLUMNS,
    JSON_FIELDS,
    KEY,
    SCHEMA,
    SUPERSEDES_SQL,
    check_schema,
    where_sql,
)
from bench.run.storeconn import close_connection, open_connection
from bench.run.storefile import mark, writing

STORE_NAME = "bench.sqlite"

_INSERT = f"INSERT INTO records ({','.join(COLUMNS)}) "
_CONFLICT = (
    f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in COLUMNS[5:])
    + f" WHERE {SUPERSEDES_SQL}"
)
#: a new record: seq one above the key's current row (1 for the first)
_WRITE = (
    _INSERT
    + f"SELECT {','.join('?' * (len(COLUMNS) - 1))}, 1 + COALESCE((SELECT seq FROM records WHERE "
    + " AND ".join(f"{c}=?" for c in KEY)
    + "), 0) WHERE true"
    + _CONFLICT
)
#: a record from a part file, with its own seq
_IMPORT = _INSERT + f"VALUES ({','.join('?' * len(COLUMNS))})" + _CONFLICT


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """SQLite-backed record store in ``<out_dir>/bench.sqlite``."""

    def __init__(self, out_dir: str | Path | None, read_only: bool = False) -> None:
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.path = None if self.out_dir is None else self.out_dir / STORE_NAME
        if self.out_dir is None or self.path is None:  # in memory (Store.memory)
            self._con = sqlite3.connect(":memory:")
        elif read_only:  # creates nothing, works on a read-only or archived store
            if not os.path.lexists(self.path):
                raise ConfigurationError(f"no results in {self.out_dir}: {STORE_NAME} not found")
            self._con = open_connection(self.path, writable=False)
            self._open(writable=False)
            return
        else:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._con = open_connection(self.path, writable=True, schema=SCHEMA)
        self._open(writable=True)

    def _open(self, writable: bool) -> None:
        """Check the schema (RecordsError naming the file: not a database, not bench's, an
        older layout), then create what is missing in a writable store."""
        try:
            has_seq = check_schema(self._con, self.path, writable)
            if writable:
                if self.path is not None:
                    self._con.execute("PRAGMA journal_mode=WAL")
                    self._con.execute("PRAGMA synchronous=FULL")
                self._con.executescript(SCHEMA)
                self._con.commit()
                mark(self._con, self.path)
        except (RecordsError, sqlite3.OperationalError) as err:  # read-only, disk full
            self.close()
            if isinstance(err, RecordsError) or "locked" in str(err):
                raise
            raise RecordsError(f"{self.path}: cannot be written ({err})") from err
        #: the record columns to select (0 for the seq of an older store read read-only)
        self._select = ",".join(c if has_seq or c != "seq" else "0 AS seq" for c in COLUMNS)

    @classmethod
    def memory(cls) -> Store:
        """An empty store in memory (records directories are read into one)."""
        return cls(None)

    def close(self) -> None:
        close_connection(self._con)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_run(self, manifest: dict[str, Any], settings: dict[str, Any]) -> str:
        """Register a run (its manifest and settings); returns the run id."""
        run_id = uuid.uuid4().hex[:12]
        with writing(self._con, self.path):
            self._con.execute(
                "INSERT INTO runs VALUES (?, ?, ?)",
                (run_id, _now(), json.dumps(manifest, sort_keys=True, default=str)),
            )
            self._con.execute(
                "INSERT OR IGNORE INTO settings VALUES (?, ?)",
                (manifest["settings_digest"], json.dumps(settings, sort_keys=True)),
            )
        return run_id

    def finished(
        self, model: str, task: str, dataset: str, digest: str, include_failures: bool = True
    ) -> set[str]:
        """Material ids already recorded (ok, and failures unless ``include_failures`` is False)."""
        sql = (
            "SELECT material_id FROM records WHERE model=? AND task=? AND dataset=? "
            "AND settings_digest=?"
        )
        if not include_failures:
            sql += " AND status='ok'"
        return {row[0] for row in self._con.execute(sql, (model, task, dataset, digest))}

    def write(self, record: dict[str, Any], run_id: str, keep_artifacts: bool = True) -> None:
        """Store one material's record atomically. It replaces an existing row of the same key
        only when it ranks at least as high (:func:`rank`), so a failure never hides an ok.

        The record's ``artifacts`` (arrays, e.g. force constants) go to files beside the store
        (:mod:`bench.run.artifacts`), named in ``details["artifacts"]``, when
        ``keep_artifacts`` and the store is on disk; else they are dropped."""
        artifacts = record.pop("artifacts", None)
        if artifacts and keep_artifacts and self.out_dir is not None:
            from bench.run.artifacts import save_artifacts

            paths = save_artifacts(self.out_dir, {**record, "artifacts": artifacts})
            record["details"] = {**(record.get("details") or {}), "artifacts": paths}
        row = [record.get(c) for c in COLUMNS[:8]]
        row += [json.dumps(record.get(name)) for name in JSON_FIELDS.values()]
        row += [record.get("wall_s"), run_id, _now()]
        with writing(self._con, self.path):
            self._con.execute(_WRITE, [*row, *(record.get(c) for c in KEY)])

    def import_records(self, records: Iterable[dict[str, Any]]) -> int:
        """Rows as :meth:`raw_records` gives them (from part files), same rule as
        :meth:`write`, keeping their run id, time and seq; returns how many were offered."""
        rows = []
        for r in records:
            row = [r.get(c) for c in COLUMNS[:8]]
            row += [json.dumps(r.get(name)) for name in JSON_FIELDS.values()]
            row += [r.get("wall_s"), r["run_id"], r["created_at"], int(r.get("seq") or 0)]
            rows.append(row)
        with writing(self._con, self.path):
            self._con.executemany(_IMPORT, rows)
        return len(rows)

    def raw_records(self, **where: str | Iterable[str] | None) -> list[dict[str, Any]]:
        """Rows as plain dicts with decoded JSON fields (``values``, ``ref``, ...)."""
        sql, params = where_sql(where)
        cursor = self._con.execute(f"SELECT {self._select} FROM records{sql}", params)
        out = []
        for row in cursor:
            item = dict(zip(COLUMNS, row, strict=True))
            for column, name in JSON_FIELDS.items():
                item[name] = json.loads(item.pop(column) or "null")
            out.append(item)
        return out

    def groups(self, **where: str | Iterable[str] | None) -> list[tuple[str, str, str, str]]:
        """Distinct (model, task, dataset, settings digest) of the records."""
        sql, params = where_sql(where)
        columns = "model, task, dataset, settings_digest"
        cursor = self._con.execute(
            f"SELECT DISTINCT {columns} FROM records{sql} ORDER BY {columns}", params
        )
        return [tuple(row) for row in cursor]

    def claim(
        self,
        group: dict[str, str],
        ids: list[str],
        owner: str,
        stale_s: float,
        skip_failures: bool = True,
    ) -> list[str]:
        """Claim ``ids`` of ``group`` (model, task, dataset, settings_digest) for ``owner``:
        those not recorded ok and not claimed by another owner whose heartbeat is younger
        than ``stale_s`` (a dead run's claims are taken over), and not recorded at all when
        ``skip_failures``. Returns the ids now owned, in the given order; one transaction, so
        two runs never own the same material."""
        now = time.time()
        keys = [group[k] for k in ("model", "task", "dataset")]
        digest = group["settings_digest"]
        host, pid = socket.gethostname(), os.getpid()
        with writing(self._con, self.path):
            others = self._con.execute(
                "SELECT DISTINCT owner, pid FROM claims WHERE host=? AND owner!=?", (host, owner)
            ).fetchall()
            for other, other_pid in others:  # a killed run on this machine: free at once
                if not process_alive(other_pid):
                    self._con.execute("DELETE FROM claims WHERE owner=?", (other,))
            self._con.executemany(
                "INSERT INTO claims VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
                "(model, task, dataset, material_id, settings_digest) DO UPDATE SET "
                "owner=excluded.owner, heartbeat=excluded.heartbeat, host=excluded.host, "
                "pid=excluded.pid WHERE claims.owner=excluded.owner OR claims.heartbeat < ?",
                [(*keys, i, digest, owner, now, host, pid, now - stale_s) for i in ids],
            )
            owned = {
                row[0]
                for row in self._con.execute(
                    "SELECT material_id FROM claims WHERE model=? AND task=? AND dataset=? "
                    "AND settings_digest=? AND owner=?",
                    (*keys, digest, owner),
                )
            }
        done = self.finished(*keys, digest, include_failures=skip_failures)
        return [i for i in ids if i in owned and i not in done]

    def release(self, owner: str) -> None:
        """Drop every claim of ``owner`` (its run ended; its records are in)."""
        with writing(self._con, self.path):
            self._con.execute("DELETE FROM claims WHERE owner=?", (owner,))

    def heartbeat(self, owner: str) -> None:
        """Say ``owner`` is alive (its claims stay its own)."""
        with writing(self._con, self.path):
            self._con.execute("UPDATE claims SET heartbeat=? WHERE owner=?", (time.time(), owner))

    def manifest(self, run_id: str) -> dict[str, Any] | None:
        """The manifest of one run (with ``run_id`` and ``started_at``), or None."""
        row = self._con.execute(
            "SELECT started_at, manifest_json FROM runs WHERE run_id=?", (run_id,)
        ).fetchone()
        return {"run_id": run_id, "started_at": row[0], **json.loads(row[1])} if row else None

    def put_run(self, manifest: dict[str, Any]) -> None:
        """Add a run's manifest as :meth:`manifest` gives it (from a records directory)."""
        body = {k: v for k, v in manifest.items() if k not in ("run_id", "started_at")}
        with writing(self._con, self.path):
            self._con.execute(
                "INSERT OR IGNORE INTO runs VALUES (?, ?, ?)",
                (manifest["run_id"], manifest["started_at"], json.dumps(body, sort_keys=True)),
            )

    def put_settings(self, digest: str, settings: dict[str, Any]) -> None:
        """Add the settings of a digest (kept if already there)."""
        with writing(self._con, self.path):
            self._con.execute(
                "INSERT OR IGNORE INTO settings VALUES (?, ?)",
                (digest, json.dumps(settings, sort_keys=True)),
            )

    def manifests(self) -> list[dict[str, Any]]:
        rows = self._con.execute("SELECT run_id, started_at, manifest_json FROM runs ORDER BY 2")
        return [{"run_id": r, "started_at": t, **json.loads(m)} for r, t, m in rows]

    def settings_for(self, digest: str) -> dict[str, Any] | None:
        row = self._con.execute(
            "SELECT settings_json FROM settings WHERE settings_digest=?", (digest,)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def records(self, **where: str | Iterable[str] | None) -> pd.DataFrame:
        """Records as a flat DataFrame: value columns ``model.X``, reference ``ref.X``.

        ``where`` filters on columns (model, task, dataset, settings_digest, status).
        """
        clause, params = where_sql(where)
        sql = f"SELECT {self._select} FROM records" + clause
        frame = pd.read_sql_query(
            sql + " ORDER BY model, task, material_id", self._con, params=params
        )
        return flatten(frame)
