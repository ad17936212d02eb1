"""Before a run resumes onto recorded materials: the same reference data (by content), the
same weights and the same model, or one line saying what differs."""

from __future__ import annotations

from typing import Any

from bench.datasets import dataset_checksums
from bench.errors import ConfigurationError
from bench.run.config import Job
from bench.run.probe import fingerprint_change
from bench.run.store import Store


def files_of(dataset: str, ids: list[str], job: Job) -> dict[str, str]:
    """Relpath -> sha256 of the files ``ids`` are read from now ({} for none)."""
    return dataset_checksums(dataset, ids, job.data_dir) if ids else {}


def check_resume(
    store: Store,
    group: dict[str, str],
    used: dict[str, str],
    checkpoint_sha: str | None,
    spec: Any,
    fingerprint: dict[str, Any] | None = None,
) -> None:
    """Resuming onto records made from other data files, other weights or another model of
    the same name (a factory's other kwargs or source) would mix them in one MAE:
    ConfigurationError naming what differs. ``used``: relpath -> sha256 of the files the
    materials already recorded are read from now; each must be a file (by content, whatever
    its name or layout) that a run of these records read. The model is the same when its
    ``fingerprint`` (:mod:`bench.run.probe`) equals theirs within the precision's noise,
    whatever its source text; records made before fingerprints (theirs unknown) are judged
    by import path, kwargs and source, as then, and this run records one."""
    manifests = [m for m in store.manifests() if all(m.get(k) == v for k, v in group.items())]
    if not manifests or not store.finished(*group.values()):
        return
    read_before = {sha for m in manifests for sha in (m.get("data_checksums") or {}).values()}
    changed = sorted(rel for rel, sha in used.items() if sha not in read_before)
    if changed:
        raise ConfigurationError(
            f"the records in {store.path} were made from other reference data "
            f"({', '.join(changed[:3])} differ by content); use another --out"
        )
    identity = spec.options.get("identity")
    for manifest in manifests:
        before = manifest.get("model_fingerprint")
        change = fingerprint_change(before, fingerprint) if fingerprint else None
        if change:
            raise ConfigurationError(
                f"the records of {group['model']} in {store.path} were made by a model that "
                f"computes otherwise ({change}); give this one another --name, or another --out"
            )
        theirs_id = manifest.get("model_identity")
        same_numbers = bool(before and fingerprint)  # a comment in the factory changes none
        if not same_numbers and theirs_id != identity and (theirs_id or identity):
            raise ConfigurationError(
                f"the records of {group['model']} in {store.path} were made by another model "
                f"({identity_text(theirs_id)}, now {identity_text(identity)}); use another "
                "--out or another name"
            )
        if manifest.get("checkpoint_sha256") not in (None, checkpoint_sha):
            raise ConfigurationError(
                f"the records in {store.path} were made with other weights (checkpoint "
                f"sha256 {manifest['checkpoint_sha256'][:12]}, now {str(checkpoint_sha)[:12]}); "
                "use another --out"
            )


def identity_text(identity: dict[str, Any] | None) -> str:
    """``import kwargs source`` of a model outside the catalogue, or ``catalogue``."""
    if not identity:
        return "a catalogue model"
    return f"{identity['import']} {identity['kwargs']} {identity['source'][:20]}"
