"""Time spent inside the model (a clock around a loaded model's evaluations) and memory."""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import MaterialError, ModelError
from bench.models.loaded import LoadedModel
from bench.models.outputs import check_batch, check_results


def proc_status_mb(field: str) -> float | None:
    """A memory field of Linux's /proc/self/status (e.g. ``VmRSS``, ``VmHWM``) in MB, or None
    where there is no such file."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB): Linux's ``VmHWM``, else the peak
    ``getrusage`` reports (kB on Linux). Not ``ru_maxrss`` on Linux: it survives ``fork`` and
    ``exec``, so a fresh interpreter started by a big process reports the parent's size."""
    hwm = proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def release_free_memory() -> None:
    """Hand the heap that freed objects left behind back to the OS (glibc's ``malloc_trim``;
    nothing elsewhere), so the next material starts from the live size, not the last one's."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    with contextlib.suppress(OSError, AttributeError, TypeError):  # not glibc
        ctypes.CDLL(name).malloc_trim(0)


def reset_peak_rss() -> bool:
    """Release freed memory (:func:`release_free_memory`), then restart this process's
    ``VmHWM`` at its resident size (Linux ≥ 4.0: ``5`` to ``/proc/self/clear_refs``), so
    :func:`peak_rss_mb` then gives the peak since this call. False where the OS has no such
    reset (the peak stays the process's)."""
    release_free_memory()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class ModelClock:
    """Seconds and number of calls spent inside the model since the clock was attached."""

    seconds: float = 0.0
    calls: int = 0

    def timed(self, func: Any, check: Callable[..., None] | None = None) -> Any:
        """``func`` timed and counted; what it raises is the material's ModelError, as is
        what ``check(result, *args, **kwargs)`` raises on what it returned."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                result = func(*args, **kwargs)
                if check is not None:
                    check(result, *args, **kwargs)
                return result
            except MaterialError:
                raise
            except MemoryError:  # the batching fallback redoes the batch one by one
                raise
            except Exception as err:  # the model raised on this structure: its failure
                raise ModelError(f"the model raised {type(err).__name__}: {err}") from err
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return wrapper


def _results_checker(calc: Any) -> Callable[..., None]:
    """The check of an ASE ``calculate(atoms=None, ...)`` call: the shapes of the results it
    left (:func:`bench.models.outputs.check_results`) for the atoms it was given (or held)."""

    def check(_: Any, atoms: Any = None, *args: Any, **kwargs: Any) -> None:
        atoms = atoms if atoms is not None else getattr(calc, "atoms", None)
        results = getattr(calc, "results", None)
        if atoms is not None and isinstance(results, dict):
            check_results(results, len(atoms))

    return check


def _batch_checked(result: Any, structures: Any, *args: Any, **kwargs: Any) -> None:
    check_batch(structures, result)


@contextmanager
def model_clock(model: LoadedModel) -> Iterator[ModelClock]:
    """Time every model evaluation of ``model`` (ASE ``calculate`` and ``batch_forces``);
    clocks nest (an inner one wraps the outer one's wrapper and puts it back)."""
    clock = ModelClock()
    calc = model.calculator
    previous = vars(calc).get("calculate")  # an outer clock's wrapper, or None
    original_batch = model.batch_forces
    outer = previous is None  # the outermost clock checks what the model returns, once
    calc.calculate = clock.timed(calc.calculate, _results_checker(calc) if outer else None)
    if original_batch is not None:
        model.batch_forces = clock.timed(original_batch, _batch_checked if outer else None)
    try:
        yield clock
    finally:
        if previous is None:
            del calc.calculate  # back to the class method
        else:
            calc.calculate = previous
        model.batch_forces = original_batch
