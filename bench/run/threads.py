"""Thread counts of a worker process: torch's threads for the model, one for BLAS/LAPACK."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_BLAS_LIMIT: Any = None  # keeps threadpoolctl's limit alive in this process
#: ``OMP_NUM_THREADS`` as the user set it, kept when :func:`set_threads` first writes its own
_USER_OMP: list[str | None] = []


def threads_per_worker(workers: int) -> int:
    """Cores per worker when ``workers`` share this machine (at least 1)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def user_threads() -> int | None:
    """The torch threads the user asked for with ``OMP_NUM_THREADS`` (a positive integer),
    as set before bench wrote its own; None when unset or not a positive integer."""
    value = _USER_OMP[0] if _USER_OMP else os.environ.get("OMP_NUM_THREADS")
    try:
        threads = int(str(value).strip())
    except ValueError:
        return None
    return threads if threads > 0 else None


def default_threads(workers: int) -> int:
    """Torch threads per worker when ``--threads`` is not given: ``OMP_NUM_THREADS`` when the
    user set it (:func:`user_threads`), else this machine's cores / ``workers``."""
    return user_threads() or threads_per_worker(workers)


def oversubscription_hint(workers: int, threads: int | None) -> str | None:
    """A hint when a run would give torch all cores while the machine is already busy
    (another run, tests): oversubscribed cores made two 2-thread runs 5.9x slower than two
    1-thread runs here (results/speed/sharing.csv). None when ``threads`` is explicit (the
    option, or ``OMP_NUM_THREADS``) or the machine is idle enough; ``OMP_NUM_THREADS`` is per
    worker, so a hint too when it gives the workers more threads than there are cores."""
    cores = os.cpu_count() or 1
    user = user_threads() if threads is None else None
    if user is not None and workers * user > cores:
        return (
            f"note: OMP_NUM_THREADS={user} gives each of the {workers} workers {user} torch "
            f"threads, {workers * user} on {cores} cores; --threads "
            f"{threads_per_worker(workers)} avoids oversubscribing them (up to ~6x slower)"
        )
    try:
        load = os.getloadavg()[0]  # runnable processes, 1-minute average
    except (AttributeError, OSError):  # not available on this platform (Windows)
        return None
    threads = threads or user_threads()
    if threads is not None or load < 1.0 or cores - load >= workers * threads_per_worker(workers):
        return None
    free = max(1, int(cores - load + 0.5) // max(1, workers))
    return (
        f"note: this machine is busy (load {load:.1f} on {cores} cores) and each worker gets "
        f"{threads_per_worker(workers)} torch threads; if another run shares it, "
        f"--threads {free} avoids oversubscribing the cores (up to ~6x slower otherwise)"
    )


def thread_env(threads: int) -> dict[str, str]:
    """Environment variables that give a new process ``threads`` OpenMP/MKL threads."""
    return {var: str(threads) for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def limit_blas_threads() -> None:
    """One BLAS thread in this process (libraries already loaded, and subprocesses)."""
    global _BLAS_LIMIT
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    _BLAS_LIMIT = threadpool_limits(limits=1, user_api="blas")


def set_threads(threads: int) -> None:
    """``threads`` for torch (the model); one thread for BLAS/LAPACK.

    The harness's linear algebra is tiny (3×3 cell filters, phonopy's small dynamical
    matrices); multithreaded OpenBLAS there fights torch's OpenMP threads for the same cores
    and made FrechetCellFilter's ``expm_frechet`` ~30× slower in a CHGNet relaxation
    (profiled on this 2-core CPU). Results are unchanged beyond rounding.
    """
    if not _USER_OMP:  # the user's choice outlives bench's own (the next run's default)
        _USER_OMP.append(os.environ.get("OMP_NUM_THREADS"))
    os.environ.update(thread_env(threads))
    limit_blas_threads()
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` for a block, then back to what they were
    (a material that runs alone takes the threads of the workers that wait for it)."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
