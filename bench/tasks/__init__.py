"""Tasks: (model, material, settings) -> record, and the registry of tasks.

Each task is one module of this package that declares ``TASK`` (a
:class:`bench.tasks.base.Task`); :data:`TASKS` finds them all, so adding a task is adding a
module. A task never raises for a bad material: a :class:`bench.errors.MaterialError` (the
relaxation, phonopy, a non-finite output, the model raising on the structure, the time limit)
becomes a record with its status, error type and message, and whatever values it could read.
An exception raised inside a library (spglib's ``SpglibCppError`` on a degenerate cell, phonopy,
numpy, yaml) is that material's failure too, recorded with its type; one raised in bench's own
code is a bug: :class:`bench.errors.BenchBugError` stops the run.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import pkgutil
import time
import traceback
from pathlib import Path
from typing import Any

from bench import limits
from bench.errors import BenchBugError, MaterialError, MaterialTimeout, OutOfMemory
from bench.models import LoadedModel
from bench.models.devices import free_gpu_memory, gpu_peak_mb, is_out_of_memory, reset_gpu_peak
from bench.models.timing import ModelClock, model_clock, peak_rss_mb, reset_peak_rss
from bench.run.validate import value_problem
from bench.settings import settings_digest
from bench.tasks.base import Material, Property, Task, TaskOutput

__all__ = [
    "TASKS",
    "Material",
    "Property",
    "Task",
    "TaskOutput",
    "per_mole_tasks",
    "reference_free_tasks",
    "run_one",
    "table2_tasks",
    "tasks_with_page",
    "time_limit",
]


def _discover() -> dict[str, Task]:
    """Every ``TASK`` of the modules of this package, the Table 2 tasks first."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        task = getattr(importlib.import_module(f"{__name__}.{info.name}"), "TASK", None)
        if isinstance(task, Task):
            found.append(task)
    order = {"phonons": 0, "elasticity": 1}  # Table 2's column order
    found.sort(key=lambda t: (order.get(t.name, 2), t.name))
    return {t.name: t for t in found}


#: task name -> Task, the only list of tasks
TASKS: dict[str, Task] = _discover()


def table2_tasks() -> list[Task]:
    """The tasks whose properties are columns of Orb-v3's Table 2, in column order."""
    return [t for t in TASKS.values() if t.table2]


def tasks_with_page(section: str) -> list[str]:
    """The tasks whose material pages carry ``section`` (e.g. "bands": phonopy's bands)."""
    return [t.name for t in TASKS.values() if t.page_section == section]


def reference_free_tasks() -> list[Task]:
    """The tasks without a reference value: reported as distributions, not MAEs."""
    return [t for t in TASKS.values() if not t.has_reference]


def per_mole_tasks() -> list[str]:
    """The tasks with a property per mole of a basis the data set names."""
    return [t.name for t in TASKS.values() if any(p.per_mole for p in t.props)]


#: bench's own code: an exception raised here is a bug, one raised in a library (spglib,
#: phonopy, numpy, yaml, ase) while evaluating a material is that material's failure
_PACKAGE = Path(__file__).resolve().parents[1]

#: the largest peak of the materials this process has run [MB] (VmHWM is reset per material)
_worker_peak_mb = 0.0


def _peak_memory(own_peak: bool) -> dict[str, float | None]:
    """``material_peak_rss_MB``: resident memory peak while this material ran (None where the
    OS cannot reset the peak; this is what the schedule's memory model is fitted to);
    ``worker_peak_rss_MB``: the worker process's peak so far (its largest material yet)."""
    global _worker_peak_mb
    peak = peak_rss_mb()
    _worker_peak_mb = max(_worker_peak_mb, peak)
    return {
        "material_peak_rss_MB": peak if own_peak else None,
        "worker_peak_rss_MB": _worker_peak_mb,
    }


def run_one(
    task: str,
    model: LoadedModel,
    material: Material,
    settings: Any,
    batch: bool = True,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Evaluate one material and always return a record (failures included); a material
    still running after ``timeout_s`` seconds is a ``timeout`` record."""
    t0 = time.perf_counter()
    partial: dict[str, Any] = {}
    base = {
        "model": model.key,
        "task": task,
        "dataset": material.dataset,
        "material_id": material.material_id,
        "settings_digest": settings_digest(settings),
    }
    clock = ModelClock()
    own_peak = reset_peak_rss()  # the peak below is then this material's alone
    reset_gpu_peak()
    try:
        if os.environ.get("BENCH_TEST_BUG_ON") == material.material_id:  # fault injection (tests)
            raise KeyError("injected bug")
        with time_limit(timeout_s), limits.exits_guarded(), model_clock(model) as clock:
            if os.environ.get("BENCH_TEST_SLOW_S"):  # fault injection (tests): slow material
                time.sleep(float(os.environ["BENCH_TEST_SLOW_S"]))
            partial = _evaluate(task, model, material, settings, batch)
        status, error_type, message = "ok", None, None
    except Exception as err:  # one catch at the material boundary: _failure's rule
        status, error_type, message, partial = _failure(err, task, material.material_id)
    except BaseException as err:  # sys.exit, os._exit, a Rust panic: this material's failure
        words = limits.escaped_words(err)
        if words is None:  # Ctrl-C, SIGTERM: the run stops
            raise
        status, error_type, message, partial = "failed", type(err).__name__, words, {}
    if status == "ok":
        status, error_type, message = _values_checked(partial)
    # seconds inside the model (every calculator call and batched force call): the rest of
    # the wall time is the harness (optimiser bookkeeping, phonopy, fit, I/O)
    timings = {**(partial.get("timings_s") or {}), "model": clock.seconds}
    timings["model_calls"] = clock.calls
    details = {**(partial.get("details") or {}), **_peak_memory(own_peak)}
    if (gpu_peak := gpu_peak_mb()) is not None:  # on a GPU: torch's peak for this material
        details["material_gpu_peak_MB"] = gpu_peak
    return {
        **base,
        "status": status,
        "error_type": error_type,
        "error_message": message,
        "values": partial.get("values"),
        "ref": partial.get("ref"),
        "details": details,
        "timings_s": timings,
        "wall_s": time.perf_counter() - t0,
        # arrays kept beside the store, not in the row (bench.run.artifacts); ok records only
        **({"artifacts": partial["artifacts"]} if partial.get("artifacts") else {}),
    }


def _evaluate(
    task: str, model: LoadedModel, material: Material, settings: Any, batch: bool
) -> dict[str, Any]:
    """The task's evaluation of ``material``. When it runs the GPU out of memory, the cache
    is emptied and the material evaluated again with the smallest batch (one structure per
    model call; ``details.oom_retried``); :class:`OutOfMemory` if that runs out too."""
    evaluate = TASKS[task].evaluate
    try:
        return dict(evaluate(model, material, settings, batch))
    except Exception as err:
        if not is_out_of_memory(err):
            raise
    free_gpu_memory()  # outside the except block: the traceback's tensors are gone
    try:
        partial = dict(evaluate(model, material, settings, False))
    except Exception as err:
        if not is_out_of_memory(err):
            raise
        message = f"CUDA out of memory, also alone with one structure per model call ({err})"
    else:
        partial["details"] = {**(partial.get("details") or {}), "oom_retried": True}
        return partial
    free_gpu_memory()
    raise OutOfMemory(message[:500])


def _failure(err: Exception, task: str, material_id: str) -> tuple[str, str, str, dict]:
    """(status, error type, message, partial values) of a material that raised ``err``:
    a MaterialError, running out of memory, or an exception raised inside a library (spglib's
    SpglibCppError on a degenerate cell, phonopy, numpy, yaml) is this material's failure;
    one raised in bench's own code is a bug: BenchBugError, which stops the run."""
    if isinstance(err, MaterialError):
        return err.status, type(err).__name__, str(err) or repr(err), dict(err.partial)
    if isinstance(err, MemoryError):  # this material is too big for the machine
        return "failed", "MemoryError", str(err) or "out of memory", {}
    where = traceback.extract_tb(err.__traceback__)[-1]
    at = f"{Path(where.filename).name}:{where.lineno}"
    if not Path(where.filename).resolve().is_relative_to(_PACKAGE):
        return "failed", type(err).__name__, f"{err or repr(err)} (in {at})", {}
    raise BenchBugError(
        f"{task} {material_id}: {type(err).__name__}: {err} at {at} (a bug in bench?)"
    ) from err


def _values_checked(partial: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(status, error type, message) of a material that raised nothing: an ok record
    carries finite numbers only (NaN is a failure), of a plausible size (what a records
    folder would refuse, :func:`bench.run.validate.value_problem`, is a failure here)."""
    bad = _non_finite(partial.get("values"))
    if bad:
        return "failed", "NonFiniteError", f"non-finite value of {', '.join(bad)}"
    wild = value_problem(partial.get("values"), True) or value_problem(partial.get("ref"), True)
    if wild:
        return "failed", "ImplausibleValueError", wild
    return "ok", None, None


def _non_finite(values: Any) -> list[str]:
    """The keys of ``values`` whose number (or any number in whose list) is NaN or infinite."""
    if not isinstance(values, dict):
        return []
    bad = []
    for key, value in values.items():
        items = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            bad.append(str(key))
    return bad


def time_limit(seconds: float | None) -> contextlib.AbstractContextManager[None]:
    """Raise :class:`MaterialTimeout` in this thread after ``seconds`` (SIGALRM; the main
    thread of a process, as in bench's workers; elsewhere, e.g. Dask's threads, no limit)."""
    message = f"still running after the time limit of {seconds or 0:g} s per material"
    return limits.time_limit(seconds, lambda: MaterialTimeout(message))


def worker_died_record(
    model: str, task: str, dataset: str, material_id: str, settings: Any, how: str
) -> dict[str, Any]:
    """The record of a material whose worker process died while evaluating it (out of
    memory, segfault): a failure like any other, so the run goes on and the table counts it."""
    return {
        "model": model,
        "task": task,
        "dataset": dataset,
        "material_id": material_id,
        "settings_digest": settings_digest(settings),
        "status": "failed",
        "error_type": "WorkerDied",
        "error_message": f"the worker process died while evaluating this material {how} "
        "(out of memory? segfault?); --retry-failures runs it again",
        "values": None,
        "ref": None,
        "details": None,
        "timings_s": None,
        "wall_s": None,
    }
