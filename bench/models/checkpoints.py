"""Checkpoint resolution shared by every family: --checkpoint, $BENCH_CHECKPOINTS, upstream."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from bench.errors import ModelUnavailableError

ENV_VAR = "BENCH_CHECKPOINTS"


def checkpoint_dir() -> Path | None:
    """The user's checkpoint directory from ``$BENCH_CHECKPOINTS``, if set."""
    value = os.environ.get(ENV_VAR)
    return Path(value).expanduser() if value else None


def resolve_checkpoint(filename: str | None, explicit: str | Path | None = None) -> Path | None:
    """Local checkpoint file, or None when the upstream package should fetch its own.

    Order: ``explicit`` (``--checkpoint``; must exist), then ``$BENCH_CHECKPOINTS/<filename>``.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelUnavailableError(f"checkpoint file not found: {path}")
        return path
    directory = checkpoint_dir()
    if directory is not None and filename:
        candidate = directory / filename
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=32)
def file_sha256(path: str) -> str:
    """sha256 of a file (hex), cached per process; checkpoints are hashed once per worker.
    A FIFO, device or folder is refused (:func:`bench.bounded_binary.sha256_file`), naming it."""
    from bench.bounded_binary import sha256_file

    return sha256_file(path, ModelUnavailableError, f"checkpoint {path}")
