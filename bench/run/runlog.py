"""A run's log file: what model packages print themselves (CHGNet's "initialized", "will run
on cpu", warnings) goes there, not between the lines of the progress bar.

``<out>/bench-run.log``, appended by every run on that folder: the local process's standard
output while it loads the model and evaluates materials, and everything a pool worker writes
to its standard output and error.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.bounded import KiB, size_text
from bench.errors import RecordsError

LOG_NAME = "bench-run.log"
#: what bench keeps of a model's own output (its prints while it loads and is checked, an own
#: environment's standard error): the last bytes, so a model printing without end costs no
#: memory (the text goes to a temporary file first)
OUTPUT_TAIL = 64 * KiB


def log_path(out_dir: str | Path) -> Path:
    """The run log of a results folder; RecordsError when it is there but not a regular
    file (a FIFO would block the run's first write)."""
    path = Path(out_dir) / LOG_NAME
    if os.path.lexists(path) and not path.is_file():
        raise RecordsError(f"{path}: not a regular file; the run log cannot go there")
    return path


def append_log(out_dir: str | Path, text: str) -> None:
    """``text`` appended to the run log of ``out_dir`` (nothing for no text; the log checked
    all the same, before a run starts)."""
    path = log_path(out_dir)
    if text:
        with path.open("a") as log:
            log.write(text)


@contextlib.contextmanager
def stdout_to(path: Path | None) -> Iterator[None]:
    """This process's standard output (the file descriptor, so C and subprocess writes too,
    and ``sys.stdout``) appended to ``path`` for the block; None: unchanged. The folder of
    ``path`` must exist."""
    if path is None:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(path, "a") as log:
            os.dup2(log.fileno(), 1)
            with contextlib.redirect_stdout(log):
                yield
            log.flush()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def stdout_kept() -> Iterator[list[str]]:
    """The standard output of the block, held back: the list gets its text at the end (for
    output made before the results folder exists, written to the log later): its last
    :data:`OUTPUT_TAIL` bytes (:func:`read_tail`)."""
    held: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-out-") as folder:
        path = Path(folder) / "out.txt"
        path.touch()
        try:
            with stdout_to(path):
                yield held
        finally:
            held.append(read_tail(path))


def read_tail(path: Path, cap: int = OUTPUT_TAIL) -> str:
    """The text of the last ``cap`` bytes of ``path`` (a file bench made), from the start of a
    line; when that is not all of it, a first line saying how much was left out."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - cap))
        data = handle.read(cap)
    if size > cap:
        cut = data.find(b"\n")
        data = data[cut + 1 :] if 0 <= cut < len(data) - 1 else data  # from a line's start
        note = f"[{size_text(size - len(data))} of output before this left out]\n"
        return note + data.decode("utf-8", errors="replace")
    return data.decode("utf-8", errors="replace")


def worker_output_to(path: str | None) -> None:
    """In a pool worker: its standard output and error appended to ``path`` for the rest of
    the process (None, or a folder that does not exist: unchanged)."""
    if path is None:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:  # no results folder (a pool used on its own): output stays where it was
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
