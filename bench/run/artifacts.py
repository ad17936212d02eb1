"""Per-material artifacts beside a store: arrays a record keeps outside its row.

A record may carry ``artifacts`` (name -> dict of arrays, e.g. the phonon task's
``force_constants``); :func:`save_artifacts` writes each to
``<store dir>/artifacts/<model>/<task>/<dataset>/<digest>/<material_id>.<name>.npz``
(``np.savez_compressed``, float64 as computed) and returns the paths relative to the store
directory, which the record's ``details["artifacts"]`` then names. Arrays may arrive as
nested lists (JSON lines from a family-environment worker). A file is written whole or not
at all (temporary file, then rename).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from bench.run.atomic import atomic_write

ARTIFACTS_DIR = "artifacts"


def _safe(name: str) -> str:
    """A file or folder name for a model label, task, data set, digest or material id."""
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", name)


def artifact_relpath(record: dict[str, Any], name: str) -> Path:
    """``artifacts/<model>/<task>/<dataset>/<digest>/<material_id>.<name>.npz``."""
    parts = [record[k] for k in ("model", "task", "dataset", "settings_digest")]
    folder = Path(ARTIFACTS_DIR, *(_safe(p) for p in parts))
    return folder / f"{_safe(record['material_id'])}.{_safe(name)}.npz"


def save_artifacts(out_dir: Path, record: dict[str, Any]) -> dict[str, str]:
    """Write the record's ``artifacts`` under ``out_dir``; returns name -> relative path."""
    written = {}
    for name, arrays in (record.get("artifacts") or {}).items():
        rel = artifact_relpath(record, name)
        path = Path(out_dir) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            np.savez_compressed(handle, **{k: np.asarray(v) for k, v in arrays.items()})
        written[name] = rel.as_posix()
    return written


def load_artifact(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of one artifact file."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def find_artifact(details: dict[str, Any] | None, name: str, roots: list[Path]) -> Path | None:
    """The file ``details["artifacts"][name]`` names, under the first of ``roots`` (store
    directories) that has it; None when the record kept none or the file is not there."""
    rel = ((details or {}).get("artifacts") or {}).get(name)
    if not rel:
        return None
    for root in roots:
        if (Path(root) / rel).is_file():
            return Path(root) / rel
    return None
