"""What a record, a part file and a records folder's JSON files must look like when read.

Records come from other machines and other people's pull requests: a record is used only if
its fields have their types, an ok record's values are finite numbers, and a folder's files
agree with it (:mod:`bench.run.records`). A problem is one line naming the file
(:class:`bench.errors.RecordsError`); nothing is skipped silently.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.bounded import MANIFEST, gzip_lines, load_json, read_json
from bench.errors import RecordsError
from bench.terminal import a_or_an

#: record fields that must be non-empty strings
TEXT = ("model", "task", "dataset", "material_id", "settings_digest", "status", "run_id")
#: fields that are a JSON object or null
OBJECTS = ("values", "ref", "details", "timings_s")


#: the statuses bench records (bench.errors: MaterialError.status and its subclasses')
STATUSES = ("ok", "failed", "not_converged", "timeout")
#: the largest magnitude of a recorded value or reference: no property bench measures comes
#: near (the committed records reach 7.6e3: an entropy in J/(K mol) of a bad model)
PLAUSIBLE = 1.0e6


def _finite(value: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return False


def value_problem(values: Any, ok: bool) -> str | None:
    """What is wrong with a record's ``values`` or ``ref`` (property -> number, bool, null
    or a list of them), or None: a string or an object is no measurement; an ok record's
    numbers are finite and within ±:data:`PLAUSIBLE`."""
    for key, value in (values or {}).items():
        for item in value if isinstance(value, list) else [value]:
            if item is None or isinstance(item, bool):
                continue
            if not isinstance(item, int | float):
                return f"{key} is {a_or_an(type(item).__name__)}, not a number"
            if ok and not math.isfinite(item):
                return f"{key} is not finite"
            if ok and abs(item) > PLAUSIBLE:
                return f"{key} = {item:.3g}, beyond ±{PLAUSIBLE:g}: no property comes near"
    return None


def _timestamp_problem(text: str) -> str | None:
    """None when ``text`` is an ISO 8601 time (``created_at``), else what is wrong."""
    from datetime import datetime

    try:
        datetime.fromisoformat(text)
    except ValueError:
        return f"created_at {text[:40]!r} is not an ISO 8601 time"
    return None


def record_problem(record: Any) -> str | None:
    """What is wrong with one record read from a part, or None."""
    if not isinstance(record, dict):
        return f"{a_or_an(type(record).__name__)}, not a record"
    for name in (*TEXT, "created_at"):
        if not isinstance(record.get(name), str) or not record[name]:
            return f"{name} is not a non-empty string"
    for name in ("error_type", "error_message"):
        if record.get(name) is not None and not isinstance(record[name], str):
            return f"{name} is not a string"
    for name in OBJECTS:
        if record.get(name) is not None and not isinstance(record[name], dict):
            return f"{name} is not an object"
    wall, seq = record.get("wall_s"), record.get("seq")
    if wall is not None and (isinstance(wall, bool) or not isinstance(wall, int | float)):
        return "wall_s is not a number"
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
        return "seq is not a count"
    if record["status"] not in STATUSES:
        return f"status {record['status'][:40]!r} is not one of {', '.join(STATUSES)}"
    if record["status"] == "ok" and not _finite(record.get("values") or {}):
        return f"an ok record of {record['material_id']} with a non-finite value"
    for name in ("values", "ref"):
        problem = value_problem(record.get(name), record["status"] == "ok")
        if problem:
            return f"{name} of {record['material_id']}: {problem}"
    return _timestamp_problem(record["created_at"])


def read_part(path: Path) -> list[dict[str, Any]]:
    """The records of one part file; RecordsError naming it (and the line) when it is not a
    regular file, over a limit of :mod:`bench.bounded` (size, decompressed size, line length),
    truncated, not gzip, not JSON lines, or holds something that is not a record."""
    records = []
    for number, line in gzip_lines(path, error=RecordsError):
        if not line.strip():
            continue
        record = load_json(line, RecordsError, f"{path} line {number}")
        problem = record_problem(record)
        if problem:
            raise RecordsError(f"{path} line {number}: {problem}")
        records.append(record)
    return records


def read_object(path: Path, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A JSON object from ``path`` (a regular file of at most :data:`bench.bounded.MANIFEST`
    bytes) with string ``required`` keys; RecordsError naming it."""
    data = read_json(path, MANIFEST, RecordsError)
    if not isinstance(data, dict):
        raise RecordsError(f"{path}: not a JSON object")
    for key in required:
        if not isinstance(data.get(key), str) or not data[key]:
            raise RecordsError(f"{path}: no {key}")
    return data
