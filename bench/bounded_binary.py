"""Bounded reads of binary files as a stream or an archive (:mod:`bench.bounded`'s caps):
a file bench hashes (a checkpoint, a reference data file) and a kept artifact (``.npz``)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.bounded import MiB, open_regular, refuse, size_text
from bench.errors import ConfigurationError

#: a file hashed as a stream (a checkpoint, a reference data file): constant memory, so the
#: cap only bounds the time; it refuses FIFOs and devices, which never end
HASHED = 64 * 1024 * MiB
#: a kept artifact (``artifacts/*.npz``, force constants) as stored, and its arrays unpacked
ARTIFACT = 256 * MiB
ARTIFACT_UNPACKED = 1024 * MiB


def sha256_file(
    path: str | Path, error: type[Exception] = ConfigurationError, label: str = ""
) -> str:
    """sha256 (hex) of a regular file of at most :data:`HASHED` bytes, read as a stream."""
    label = label or str(path)
    digest = hashlib.sha256()
    with open_regular(path, HASHED, error, label) as handle:
        try:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        except OSError as err:
            raise refuse(error, label, err.strerror or str(err)) from err
    return digest.hexdigest()


def load_npz(
    path: str | Path, error: type[Exception] = ValueError, label: str = ""
) -> dict[str, Any]:
    """The arrays of an ``.npz`` file (no pickles) of at most :data:`ARTIFACT` bytes whose
    arrays unpack to at most :data:`ARTIFACT_UNPACKED` bytes (the zip's sizes, which bound
    what Python's zipfile decompresses)."""
    label = label or str(path)
    with open_regular(path, ARTIFACT, error, label) as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                unpacked = sum(member.file_size for member in archive.infolist())
            if unpacked > ARTIFACT_UNPACKED:  # read here at each call
                reason = f"unpacks to {size_text(unpacked)}, over the "
                raise refuse(error, label, reason + f"{size_text(ARTIFACT_UNPACKED)} limit")
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
            if isinstance(err, error):
                raise
            raise refuse(error, label, f"not a readable .npz file ({err})") from err
