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

from pathlib import Path
from typing import Any

import numpy as np

from bench.names import inside, safe_name
from bench.run.atomic import atomic_write

ARTIFACTS_DIR = "artifacts"


def artifact_relpath(record: dict[str, Any], name: str) -> Path:
    """``artifacts/<model>/<task>/<dataset>/<digest>/<material_id>.<name>.npz``."""
    parts = [record[k] for k in ("model", "task", "dataset", "settings_digest")]
    folder = Path(ARTIFACTS_DIR, *(safe_name(p) for p in parts))
    return folder / f"{safe_name(record['material_id'])}.{safe_name(name)}.npz"


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
    """The arrays of one artifact file (a kept file may be anyone's: bounded,
    :func:`bench.bounded_binary.load_npz`; a refusal is a ValueError naming the file)."""
    from bench.bounded_binary import load_npz

    return load_npz(path, ValueError, str(path))


def artifact_paths(details: Any) -> dict[str, str]:
    """``details["artifacts"]`` of a record (name -> path relative to its store), or {} for a
    record without, or one whose entry is not such a mapping (a hand-made part)."""
    found = details.get("artifacts") if isinstance(details, dict) else None
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


def find_artifact(details: dict[str, Any] | None, name: str, roots: list[Path]) -> Path | None:
    """The file ``details["artifacts"][name]`` names, under the first of ``roots`` (store
    directories) that has it inside its ``artifacts`` folder (:func:`bench.names.inside`: an
    absolute path, ``../`` or a link out of the folder is never opened); None when the record
    kept none or the file is not there."""
    rel = artifact_paths(details).get(name)
    for root in roots if rel else []:
        path = inside(root, rel, ARTIFACTS_DIR)
        if path is not None and path.is_file():
            return path
    return None
