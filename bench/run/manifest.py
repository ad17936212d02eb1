"""Run manifest: what made a number (versions, checkpoint, data checksums, code commit)."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.models.families import family_packages

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
