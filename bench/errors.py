"""Exceptions raised by the library. The runner turns them into failure records; the CLI turns
configuration errors (unknown model, missing data) into one clear line."""

from __future__ import annotations

from bench.terminal import echo


class BenchError(Exception):
    """Base class for bench errors."""


class ConfigurationError(BenchError):
    """A run cannot start: unknown model, missing data directory, bad option."""


class UnknownModelError(ConfigurationError, KeyError):
    """A model name that is neither a key nor an alias of the catalogue."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ModelUnavailableError(ConfigurationError):
    """The model is known but cannot be loaded here (package or checkpoint missing)."""


class ModelCheckError(BenchError):
    """A model fails the contract check a run makes before its first material (forces that
    are not −dE/dx, a stress it lacks, non-finite values): the check table, exit 1."""


class MaterialError(BenchError):
    """A single material failed; recorded as a failure, the run goes on. ``partial`` holds
    what was computed before the failure (``values``, ``ref``, ``details``, ``timings_s``),
    which the record keeps."""

    status = "failed"

    def __init__(self, message: str = "", partial: dict | None = None) -> None:
        super().__init__(message)
        self.partial: dict = partial or {}

    def __reduce__(self):  # pickles with its partial results (pool and dask workers)
        return (type(self), (str(self), self.partial))


class NotConvergedError(MaterialError):
    """The relaxation did not reach the acceptance force threshold."""

    status = "not_converged"


class DivergedError(MaterialError):
    """The relaxation exploded (forces above the sanity bound, or a collapsed cell)."""


class NonFiniteError(MaterialError):
    """The model returned NaN or infinite energies, forces or stresses."""


class MaterialTimeout(MaterialError):
    """The material ran over the run's time limit per material (``--material-timeout``)."""

    status = "timeout"


class OutOfMemory(MaterialError):
    """The material ran the GPU out of memory, also when evaluated again alone with the
    smallest batch (one structure per model call)."""


class ModelError(MaterialError):
    """The model raised on this structure (e.g. an element it does not know)."""


class PhonopyError(MaterialError):
    """Phonopy rejected the (relaxed) structure."""


class RecordsError(BenchError):
    """A store, records folder or run file that is not what bench writes (damaged, foreign,
    of an older layout, or edited by hand): one line naming the file, exit 1."""


class BenchBugError(BenchError):
    """An exception that is neither a material's failure nor a configuration problem: a bug in
    bench. It stops the run (records so far are kept) instead of hiding in a failed row."""


def warn(message: str) -> None:
    """One ``bench: warning:`` line on stderr: something was skipped, the command goes on
    (Python's warnings are silenced by the command line, bench.cli)."""
    import sys

    echo(f"bench: warning: {message}", file=sys.stderr)
