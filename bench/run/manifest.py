"""Run manifest: what made a number (versions, checkpoint, data checksums, code commit)."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.models.families import family_packages
from bench.run.gpus import worker_gpu_names

#: the packages that can change a number besides the model families'
CORE_PACKAGES = ("bench", "numpy", "scipy", "ase", "phonopy", "spglib", "pymatgen", "matcalc")
#: packages of an engine other than ase (bench.engines), when installed
ENGINE_PACKAGES = ("torch-sim-atomistic",)
#: bench's own, every model family's (the catalogue's family tables) and the engines'
PACKAGES = tuple(dict.fromkeys((*CORE_PACKAGES, *family_packages(), *ENGINE_PACKAGES)))


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change a number."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


#: what ``git status`` looks at for ``-dirty``: everything but the committed results
SOURCE = ("--", ".", ":(exclude)results")


def source_root() -> Path:
    """The folder this package's source checkout sits in (the repository, when from git)."""
    return Path(__file__).resolve().parents[2]


def git_commit() -> str | None:
    """HEAD of the source checkout, with ``-dirty`` when it has uncommitted changes to tracked
    files outside ``results/`` (committed summaries and records do not change a number)."""
    root = source_root()
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [*("git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"), *SOURCE],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def machine() -> dict[str, Any]:
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def build_manifest(**fields: Any) -> dict[str, Any]:
    """Manifest of a run: the given fields plus versions, git commit and machine."""
    return {
        **fields,
        "versions": package_versions(),
        "git_commit": git_commit(),
        "machine": machine(),
    }


def run_fields(
    config: Any,
    spec: Any,
    group: dict[str, str],
    job: Any,
    device: str,
    weights: tuple[Any, str | None],
    checksums: dict[str, str],
    n_materials: int,
) -> dict[str, Any]:
    """The run's own manifest fields (:func:`build_manifest` adds versions, commit, machine):
    the model's identity and weights, the device and dtype it runs in (``dtype_requested``
    ``native`` when the factory chose it: :func:`bench.run.precheck.resolved_dtype`), the data
    files' checksums. ``weights``: the checkpoint file (None: upstream's) and its sha256."""
    checkpoint, sha = weights
    return {
        **group,
        "model_key": spec.key,
        "model_source": spec.source,
        "model_identity": spec.options.get("identity"),
        "model_metadata": spec.options.get("metadata"),  # ml-peg's training data, theory
        "subset": config.subset,
        "device": device,
        # the GPU of each worker, round-robin (bench.run.gpus); None: not spread over GPUs
        "worker_gpus": worker_gpu_names(config),
        "dtype": job.settings.dtype,
        # native: a factory's own precision, hashed under the dtype it computes in
        **({"dtype_requested": job.load_dtype} if job.load_dtype else {}),
        "checkpoint": str(checkpoint) if checkpoint else f"upstream: {spec.url or spec.source}",
        "checkpoint_sha256": sha,
        "data_checksums": checksums,
        "n_materials": n_materials,
        "material_timeout_s": config.material_timeout_s,
    }
