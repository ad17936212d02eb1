"""Records as a flat table: the JSON columns expanded, and written to CSV or parquet whole or
not at all (a full disk or Ctrl-C leaves the previous file)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from bench.errors import ConfigurationError
from bench.run.atomic import atomic_path


class RecordSource(Protocol):
    """What :func:`export` reads: a :class:`bench.run.store.Store`."""

    def records(self, **where: Any) -> pd.DataFrame: ...


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


def export(store: RecordSource, path: str | Path, **where: str | Iterable[str] | None) -> Path:
    """Write records to CSV or parquet (by suffix), replacing ``path`` only when complete."""
    path = Path(path)
    if path.suffix not in (".csv", ".parquet"):
        raise ConfigurationError(f"export to {path}: the file must end in .csv or .parquet")
    if path.is_dir() or not path.parent.is_dir():
        raise ConfigurationError(f"export to {path}: not a file in an existing folder")
    frame = store.records(**where)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            try:
                frame.to_parquet(tmp, index=False)
            except ImportError as err:
                raise ConfigurationError(
                    f"parquet export needs pyarrow: pip install pyarrow ({err})"
                ) from err
        else:
            frame.to_csv(tmp, index=False)
    return path
