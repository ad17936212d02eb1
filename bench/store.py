"""Result store: one SQLite file per results directory.

One row per (model, task, dataset, material, settings digest), committed as each material
finishes, so a crash loses at most the materials in flight. A changed setting has a new digest
and so new rows; old rows are never overwritten (except failures, on ``--retry-failures``).
Each run also stores its manifest (versions, checkpoint and data checksums, git commit).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

STORE_NAME = "bench.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    dataset TEXT NOT NULL,
    material_id TEXT NOT NULL,
    settings_digest TEXT NOT NULL,
    status TEXT NOT NULL,            -- ok | failed | not_converged
    error_type TEXT,
    error_message TEXT,
    values_json TEXT,               -- model values
    ref_json TEXT,                  -- reference (DFT) values
    details_json TEXT,              -- diagnostics (relaxation, thermal series, sizes)
    timings_json TEXT,              -- wall-time split, s (phonons: relax, forces, phonopy)
    wall_s REAL,
    run_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (model, task, dataset, material_id, settings_digest)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    manifest_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    settings_digest TEXT PRIMARY KEY,
    settings_json TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """SQLite-backed record store in ``<out_dir>/bench.sqlite``."""

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.out_dir / STORE_NAME
        self._con = sqlite3.connect(self.path, timeout=60.0)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.executescript(_SCHEMA)
        self._con.commit()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_run(self, manifest: dict[str, Any], settings: dict[str, Any]) -> str:
        """Register a run (its manifest and settings); returns the run id."""
        run_id = uuid.uuid4().hex[:12]
        with self._con:
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

    def write(self, record: dict[str, Any], run_id: str) -> None:
        """Insert one material's record atomically (replaces an earlier failure on retry)."""
        row = (
            record["model"],
            record["task"],
            record["dataset"],
            record["material_id"],
            record["settings_digest"],
            record["status"],
            record.get("error_type"),
            record.get("error_message"),
            json.dumps(record.get("values")),
            json.dumps(record.get("ref")),
            json.dumps(record.get("details")),
            json.dumps(record.get("timings_s")),
            record.get("wall_s"),
            run_id,
            _now(),
        )
        with self._con:
            self._con.execute(
                "INSERT OR REPLACE INTO records VALUES (" + ",".join("?" * len(row)) + ")", row
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
        clauses, params = [], []
        for column, value in where.items():
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
        sql = "SELECT * FROM records" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        frame = pd.read_sql_query(
            sql + " ORDER BY model, task, material_id", self._con, params=params
        )
        return flatten(frame)


def flatten(frame: pd.DataFrame) -> pd.DataFrame:
    """Expand JSON columns into ``model.<key>``, ``ref.<key>`` and ``time.<key>`` columns.

    ``details_json`` stays JSON (diagnostics are nested and task-specific).
    """
    if frame.empty:
        return frame
    frame = frame.reset_index(drop=True)
    parts = []
    for column, prefix in (("values_json", "model"), ("ref_json", "ref"), ("timings_json", "time")):
        expanded = pd.json_normalize([json.loads(v or "null") or {} for v in frame.pop(column)])
        expanded.columns = [f"{prefix}.{c}" for c in expanded.columns]
        parts.append(expanded)
    return pd.concat([frame, *parts], axis=1)


def export(store: Store, path: str | Path, **where: str | None) -> Path:
    """Write records to CSV or parquet (by suffix)."""
    path = Path(path)
    frame = store.records(**where)
    if path.suffix == ".parquet":
        try:
            frame.to_parquet(path, index=False)
        except ImportError as err:
            from bench.errors import ConfigurationError

            raise ConfigurationError(
                f"parquet export needs pyarrow: pip install pyarrow ({err})"
            ) from err
    else:
        frame.to_csv(path, index=False)
    return path
