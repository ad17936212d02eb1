"""Bounded reads of binary files as a stream or an archive (:mod:`bench.bounded`'s caps):
a file bench hashes (a checkpoint, a reference data file) and a kept artifact (``.npz``)."""

from __future__ import annotations

import hashlib
import math
import struct
import tokenize
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy

from bench.bounded import DECOMPRESS_ERRORS, MiB, open_regular, refuse, size_text
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
    what Python's zipfile decompresses, and each array's declared shape, read before numpy
    allocates it); else ``error`` naming the file, whatever is wrong inside it."""
    label = label or str(path)
    with open_regular(path, ARTIFACT, error, label) as handle:
        try:
            with zipfile.ZipFile(handle) as archive:
                members = archive.infolist()
                unpacked = sum(member.file_size for member in members)
                if unpacked > ARTIFACT_UNPACKED:  # read here at each call
                    reason = f"unpacks to {size_text(unpacked)}, over the "
                    raise refuse(error, label, reason + f"{size_text(ARTIFACT_UNPACKED)} limit")
                for member in members:
                    _check_declared(archive, member, error, label)
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except _NPZ_ERRORS as err:
            if isinstance(err, error) and str(err).startswith(f"{label}: "):
                raise
            raise refuse(error, label, f"not a readable .npz file ({_why(err)})") from err


#: what a damaged or hostile zip or .npy raises (a bad deflate stream: zlib.error; an unknown
#: compression method: NotImplementedError; an encrypted member: RuntimeError; a garbled
#: .npy header: tokenize's TokenError, from numpy)
_NPZ_ERRORS = (
    *DECOMPRESS_ERRORS,
    zipfile.BadZipFile,
    struct.error,
    NotImplementedError,
    RuntimeError,
    MemoryError,
    OverflowError,
    SyntaxError,
    tokenize.TokenError,
)
#: the readers of an .npy header by format version (bench writes 1.0)
_HEADERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}


def _check_declared(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, error: type[Exception], label: str
) -> None:
    """``error`` when the .npy ``member`` declares an array larger than its data (numpy
    allocates the declared shape before it reads a byte); a member that is no .npy is left
    to numpy."""
    with archive.open(member) as stream:
        if stream.read(len(npy.MAGIC_PREFIX)) != npy.MAGIC_PREFIX:
            return
        version = tuple(stream.read(2))
        if version not in _HEADERS:
            raise refuse(error, label, f"{member.filename}: .npy format {version} not read")
        shape, _, dtype = _HEADERS[version](stream)
        left = member.file_size - stream.tell()  # the bytes after the header
    declared = math.prod(shape) * dtype.itemsize  # Python's ints: no overflow
    if declared > left:
        reason = f"{member.filename} declares an array of {size_text(declared)} in "
        raise refuse(error, label, reason + f"{size_text(max(left, 0))}; not read")


def _why(err: BaseException) -> str:
    """An exception in a few words: its text, else its type's name."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:160]}" if text else type(err).__name__
