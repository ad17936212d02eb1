"""Files that appear whole or not at all: write to a temporary name, then rename."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` only when the block ends without error.

    The temporary file sits beside ``path`` (same file system, so the rename is atomic) and
    carries the process id, so two processes writing the same path never share it.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with _named(path), open(tmp, "wb") as handle:
            yield handle
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _named(path: Path) -> Iterator[None]:
    """An OSError of the block without a file name (a full disk on write or close) names
    ``path``, so its one line says which file could not be written."""
    try:
        yield
    except OSError as err:
        if err.filename is None and err.errno is not None:
            raise OSError(err.errno, err.strerror, str(path)) from err
        raise


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a library that writes by name (pandas, matplotlib);
    it replaces ``path`` only when the block ends without error (a full disk or Ctrl-C keeps
    the previous file, and leaves no temporary one)."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        with _named(path):
            yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> Path:
    """``text`` (UTF-8) to ``path``, whole or not at all."""
    with atomic_write(Path(path)) as handle:
        handle.write(text.encode())
    return Path(path)


_TMP = re.compile(r"\.(\d+)\.tmp(\.[A-Za-z0-9]+)?$")


def process_alive(pid: int) -> bool:
    """True if a process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale(directory: Path) -> list[Path]:
    """Remove the temporary files of writers in ``directory`` whose process is gone (a kill
    during a write); returns them."""
    removed = []
    for path in Path(directory).glob("*.tmp*"):
        match = _TMP.search(path.name)
        if match and path.is_file() and not process_alive(int(match[1])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
