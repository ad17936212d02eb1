"""Committed records: a run's per-material records as append-only, git-friendly part files.

Layout (one folder per model, task, data set and settings digest)::

    results/records/<model>/<task>/<dataset>/<digest>/
        settings.json                      the settings the digest hashes
        runs/<run_id>.json                 manifest of each run whose records are here
        part-<UTC time>-<hash>.jsonl.gz    records, one JSON object per line
    results/records/artifacts/...          files the records keep beside them (kept force
                                           constants), at their relative path in the store,
                                           copied only when asked (``artifacts=True``)

A file, once written, is never rewritten: :func:`push` writes the records a store has that no
part holds yet (or holds in a worse state: a retried failure that is now ok) to a new part.
Reading merges the parts with the store's rule (:func:`bench.run.schema.supersedes`: status,
then the key's write sequence, never a clock), so a retry's record replaces the one it retried
and an ok record is never replaced by a failure.
Gzip members carry no time stamp and no file name, so the same records give the same bytes.

Records directories are read like stores: :func:`open_results` turns one into an in-memory
store, so ``bench summary``, ``bench table`` and ``bench export`` read either; ``bench run
--records DIR`` loads the matching parts into its store before it skips what is done, and
pushes what it added when it ends.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from bench.errors import RecordsError, warn
from bench.names import inside, safe_name
from bench.run.artifacts import ARTIFACTS_DIR, artifact_paths
from bench.run.atomic import atomic_write, remove_stale
from bench.run.schema import supersedes
from bench.run.store import STORE_NAME, Store
from bench.run.validate import read_object, read_part
from bench.settings import dict_digest

PART_GLOB = "part-*.jsonl.gz"
#: the record columns one records folder stands for
GROUP_KEYS = ("model", "task", "dataset", "settings_digest")


#: how far :func:`is_records_dir` looks for a part file: the depth of a group folder
#: (``<model>/<task>/<dataset>/<digest>``) and a number of folders, so a wrong ``--out``
#: (``/``, a home folder) is answered in a moment instead of walking the file system
SEARCH_DEPTH = len(GROUP_KEYS)
SEARCH_FOLDERS = 5_000


def is_records_dir(path: str | Path) -> bool:
    """True when ``path`` holds part files (down to a group folder's depth, symbolic links
    followed: they are refused on read) and no store of its own."""
    path = Path(path)
    if not path.is_dir() or (path / STORE_NAME).exists():
        return False
    level, seen = [path], 0
    for _ in range(SEARCH_DEPTH + 1):
        below = []
        for folder in level:
            seen += 1
            if seen > SEARCH_FOLDERS:
                return False
            try:  # an unreadable entry is not a records folder of ours
                entries = [(e, e.is_file(), e.is_dir()) for e in os.scandir(folder)]
            except OSError:
                continue
            if any(is_file and fnmatch(e.name, PART_GLOB) for e, is_file, _ in entries):
                return True
            below += [Path(e.path) for e, _, is_dir in entries if is_dir]
        level = below
    return False


def group_dir(root: Path, model: str, task: str, dataset: str, digest: str) -> Path:
    """``<root>/<model>/<task>/<dataset>/<digest>``."""
    return Path(root).joinpath(*(safe_name(p) for p in (model, task, dataset, digest)))


def read_group(directory: Path) -> dict[str, dict[str, Any]]:
    """Material id -> the record that stands after merging the folder's parts
    (:func:`bench.run.schema.supersedes`). RecordsError naming the file for a part that is
    damaged, or that holds a record of another model, task, data set or settings digest than
    the folder's (a part copied into the wrong folder would relabel its records)."""
    merged: dict[str, dict[str, Any]] = {}
    names = list(directory.parts[-4:])
    for part in sorted(directory.glob(PART_GLOB)):
        for record in read_part(part):
            if [safe_name(record[k]) for k in GROUP_KEYS] != names:
                where = "/".join(str(record[k]) for k in GROUP_KEYS)
                raise RecordsError(f"{part}: holds a record of {where}, not of this folder")
            old = merged.get(record["material_id"])
            if old is None or supersedes(record, old):
                merged[record["material_id"]] = record
    return merged


def group_settings(directory: Path) -> dict[str, Any]:
    """The folder's ``settings.json``; RecordsError when it is missing, damaged, or does not
    hash to the folder's digest (edited by hand: the records were made with other settings)."""
    path = directory / "settings.json"
    if not os.path.lexists(path):
        raise RecordsError(f"{directory}: part files without a settings.json")
    settings = read_object(path, ("class",))
    if dict_digest(settings) != directory.name:
        raise RecordsError(f"{path}: does not hash to the folder's digest {directory.name}")
    return settings


def _groups(root: Path, where: dict[str, str | None]) -> list[Path]:
    """The group folders under ``root`` that ``where`` selects (by their names). A symbolic
    link anywhere in the folder, or a part outside a ``<model>/<task>/<dataset>/<digest>``
    folder, is a RecordsError: what is read is what a push writes to."""
    wanted = [safe_name(where[k]) if where.get(k) else None for k in GROUP_KEYS]
    found = set()
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        for name in [*dirs, *files]:
            if (here / name).is_symlink():
                raise RecordsError(f"{here / name}: a symbolic link in a records folder")
        rel = here.relative_to(root).parts
        if rel[:1] == (ARTIFACTS_DIR,) or not any(fnmatch(f, PART_GLOB) for f in files):
            continue
        if len(rel) != len(GROUP_KEYS):
            raise RecordsError(f"{here}: parts outside a <model>/<task>/<dataset>/<digest> folder")
        if all(w is None or w == r for w, r in zip(wanted, rel, strict=True)):
            found.add(here)
    return sorted(found)


def load_into(store: Store, root: str | Path, **where: str | None) -> int:
    """Load the parts under ``root`` into ``store`` (manifests and settings too); ``where``
    filters groups on model, task, dataset, settings_digest. Returns the records loaded.
    Everything read is checked first (:func:`read_group`, :func:`group_settings`, the run
    manifests): a problem is a RecordsError naming the file, and nothing is loaded."""
    groups = []
    for directory in _groups(Path(root), where):
        settings, records = group_settings(directory), read_group(directory)
        runs = [
            read_object(path, ("run_id", "started_at"))
            for path in sorted((directory / "runs").glob("*.json"))
        ]
        groups.append((directory.name, settings, records, runs))
    n = 0
    for digest, settings, records, runs in groups:
        store.put_settings(digest, settings)
        for manifest in runs:
            store.put_run(manifest)
        n += store.import_records(records.values())
    return n


def open_results(path: str | Path) -> Store:
    """A store to read: ``<path>/bench.sqlite``, or the parts of a records directory loaded
    into an in-memory store."""
    if is_records_dir(path):
        store = Store.memory()
        load_into(store, path)
        return store
    return Store(path, read_only=True)


#: what committed records may hold in all (MB): part files of the full sets are a few MB, kept
#: force constants are not (the 1,170 Cv binaries' would be about 0.6 GB), so artifacts are
#: copied only when a push asks for them (the site's few mdr-smoke materials)
RECORDS_BUDGET_MB = 30


def push(
    store: Store, root: str | Path, artifacts: bool = False, **where: str | Iterable[str] | None
) -> list[Path]:
    """Write what ``store`` holds beyond the parts under ``root`` as new part files (one per
    group that has something new); returns the files written. ``artifacts``: also copy the
    artifact files the group's records name, also of records pushed before without them (off
    by default: see :data:`RECORDS_BUDGET_MB`)."""
    root = Path(root)
    written = []
    for group in store.groups(**where):
        directory = _real_folder(root, group_dir(root, *group))
        have = read_group(directory) if directory.exists() else {}
        everything = store.raw_records(**dict(zip(GROUP_KEYS, group, strict=True)))
        if artifacts:
            _copy_artifacts(store, everything, root)
        rows = [
            r
            for r in everything
            if r["material_id"] not in have or _is_new(r, have[r["material_id"]])
        ]
        if not rows:
            continue
        directory.mkdir(parents=True, exist_ok=True)
        _settings_file(store, directory)
        runs = directory / "runs"
        runs.mkdir(exist_ok=True)
        for folder in (directory, runs):  # a push killed mid-write left its temporary file
            remove_stale(folder)
        for run_id in sorted({r["run_id"] for r in rows}):
            manifest = store.manifest(run_id)
            path = runs / f"{safe_name(run_id)}.json"
            if manifest is not None and not path.exists():
                _write_json(path, manifest)
        written.append(_write_part(directory, sorted(rows, key=lambda r: r["material_id"])))
    return written


def final_push(store: Store, config: Any, group: dict[str, str]) -> None:
    """Push a run's records (``config``: its :class:`bench.run.config.RunConfig`) at its end;
    a failure is one line saying where they are and how to push them."""
    try:
        push(store, config.records_dir, config.push_artifacts, **group)
    except OSError as err:
        raise RecordsError(
            f"could not push to --records {config.records_dir} ({err.strerror or err}); the "
            f"records are in {store.path}: bench records push --out {config.out_dir} --to "
            f"{config.records_dir}"
        ) from err


def _real_folder(root: Path, directory: Path) -> Path:
    """``directory``; RecordsError when a folder on its way from ``root`` is a symbolic link
    (reading refuses those, so a push would write records no one reads)."""
    for depth in range(1, len(directory.relative_to(root).parts) + 1):
        step = root.joinpath(*directory.relative_to(root).parts[:depth])
        if step.is_symlink():
            raise RecordsError(f"{step}: a symbolic link in a records folder")
    return directory


def _settings_file(store: Store, directory: Path) -> None:
    """Write the group's ``settings.json`` (from the store), or check the one there."""
    path = directory / "settings.json"
    if path.exists() or any(directory.glob(PART_GLOB)):
        group_settings(directory)
        return
    settings = store.settings_for(directory.name)
    if settings is None or dict_digest(settings) != directory.name:
        raise RecordsError(f"{store.path}: no settings that hash to {directory.name} to push")
    _write_json(path, settings)


def _write_json(path: Path, obj: Any) -> None:
    """``obj`` as indented JSON, whole or not at all (a file here is never rewritten, so a
    half-written one would stay)."""
    with atomic_write(path) as handle:
        handle.write((json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode())


def _copy_artifacts(store: Store, rows: list[dict[str, Any]], root: Path) -> None:
    """Copy the artifact files the rows name (``details["artifacts"]``, paths relative to the
    store directory) to the same relative paths under ``root``, so a report read from the
    records finds them (:func:`bench.run.artifacts.find_artifact`)."""
    if store.out_dir is None:
        return
    for row in rows:
        for rel in artifact_paths(row.get("details")).values():
            # both ends inside their artifacts folders: a record naming ../../.ssh/id_rsa or
            # /etc/passwd copies nothing (bench.names.inside)
            source = inside(store.out_dir, rel, ARTIFACTS_DIR)
            dest = inside(root, rel, ARTIFACTS_DIR)
            if source is None or dest is None:
                where = f"{ARTIFACTS_DIR}/ of {store.out_dir} and {root}"
                warn(f"not copying {rel!r} ({row.get('material_id')}): not a file in {where}")
                continue
            if source.is_file() and not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                with open(source, "rb") as src, atomic_write(dest) as handle:
                    shutil.copyfileobj(src, handle)


def _is_new(row: dict[str, Any], have: dict[str, Any]) -> bool:
    def ident(r: dict[str, Any]) -> tuple:
        return r["status"], r["created_at"], r["run_id"], int(r.get("seq") or 0)

    return ident(row) != ident(have) and supersedes(row, have)


def _write_part(directory: Path, rows: list[dict[str, Any]]) -> Path:
    blob = "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in rows)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(blob.encode()).hexdigest()[:8]
    path = directory / f"part-{stamp}-{digest}.jsonl.gz"
    # filename="": no name in the gzip header (it would be the temporary file's)
    with atomic_write(path) as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as handle:
        handle.write(blob.encode())
    return path
