"""Tasks: (model, material, settings) -> record. Each task is a pure function of its inputs.

A task never raises for a bad material: a :class:`bench.errors.MaterialError` (the
relaxation, phonopy, a non-finite output, the model raising on the structure, the time limit)
becomes a record with its status, error type and message, and whatever values it could read.
Any other exception is a bug in bench: :class:`bench.errors.BenchBugError` stops the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.elasticity import ElasticSettings
from bench.equigrad import EquigradSettings
from bench.errors import BenchBugError, MaterialError, MaterialTimeout
from bench.models import LoadedModel
from bench.settings import PhononSettings, settings_digest
from bench.timing import ModelClock, model_clock, peak_rss_mb


@dataclass(frozen=True)
class Task:
    """A benchmark task: its settings class, the properties it scores, its evaluate function.

    ``has_reference`` False: no DFT value to compare with (records carry an empty ``ref``);
    summaries give the distribution of each property (median, 95th percentile) instead of
    an MAE, and the task runs on a subset of any data set (it needs only the structure).
    """

    name: str
    settings_cls: type
    properties: tuple[str, ...]
    evaluate: Callable[..., None]
    has_reference: bool = True


def evaluate_phonons(
    model: LoadedModel,
    dataset: str,
    material_id: str,
    settings: PhononSettings,
    data_dir: Path | None,
    batch: bool,
    record: dict[str, Any],
) -> None:
    """Fill ``record`` for one material: reference side first, then the model side.

    ``record`` is filled in place so that what was computed before a failure is kept.
    """
    from bench.datasets import get_dataset, load_phonon_reference
    from bench.phonons import reference_values, run_phonons

    # what "per mole" counts in S, F, Cv (the data set's, e.g. "primcell")
    record["details"] = {"basis": get_dataset(dataset).basis}
    ref = load_phonon_reference(dataset, material_id, data_dir)
    refs = reference_values(ref, settings)
    record["ref"] = refs["values"]
    record["details"]["ref_stored"] = refs["stored"]
    record["details"]["ref_recomputed"] = refs["recomputed"]
    record["details"]["source"] = {"file": ref.source, "sha256": ref.sha256}
    result = run_phonons(ref, model, settings, batch=batch)
    record["values"] = result.pop("values")
    record["timings_s"] = result.pop("timings_s")
    record["details"].update(result)


def evaluate_elasticity(
    model: LoadedModel,
    dataset: str,
    material_id: str,
    settings: ElasticSettings,
    data_dir: Path | None,
    batch: bool,
    record: dict[str, Any],
) -> None:
    """Fill ``record`` with K_VRH, G_VRH (GPa) of the model and the DFT reference."""
    from bench.datasets import load_elastic_reference
    from bench.elasticity import run_elasticity

    ref = load_elastic_reference(dataset, material_id, data_dir)
    record["ref"] = {"K_GPa": ref.bulk_modulus_GPa, "G_GPa": ref.shear_modulus_GPa}
    record["details"] = {"source": {"file": ref.source, "sha256": ref.sha256}}
    try:
        result = run_elasticity(ref.structure, model, settings)
    except Exception as err:
        partial = getattr(err, "partial", None) or {}
        record["values"] = partial.get("values")
        record["details"].update(partial.get("details") or {})
        record["timings_s"] = partial.get("timings_s")
        raise
    record["values"] = result["values"]
    record["timings_s"] = result["timings_s"]
    record["details"].update(result["details"])


def evaluate_equigrad(
    model: LoadedModel,
    dataset: str,
    material_id: str,
    settings: EquigradSettings,
    data_dir: Path | None,
    batch: bool,
    record: dict[str, Any],
) -> None:
    """Fill ``record`` with ‖Δrot‖ (eV) of the reference structure, unrelaxed; no reference."""
    from bench.datasets import load_structure
    from bench.equigrad import run_equigrad

    structure, source, sha256 = load_structure(dataset, material_id, data_dir)
    record["ref"] = {}
    record["details"] = {"source": {"file": source, "sha256": sha256}}
    try:
        result = run_equigrad(structure, model, settings)
    except Exception as err:
        partial = getattr(err, "partial", None) or {}
        record["values"] = partial.get("values")
        record["details"].update(partial.get("details") or {})
        record["timings_s"] = partial.get("timings_s")
        raise
    record["values"] = result["values"]
    record["timings_s"] = result["timings_s"]
    record["details"].update(result["details"])


TASKS: dict[str, Task] = {
    "phonons": Task(
        name="phonons",
        settings_cls=PhononSettings,
        properties=("omega_max_K", "S_J_per_K_mol", "F_kJ_per_mol", "Cv_J_per_K_mol"),
        evaluate=evaluate_phonons,
    ),
    "elasticity": Task(
        name="elasticity",
        settings_cls=ElasticSettings,
        properties=("K_GPa", "G_GPa"),
        evaluate=evaluate_elasticity,
    ),
    "equigrad": Task(
        name="equigrad",
        settings_cls=EquigradSettings,
        properties=(
            "delta_rot_eV",
            "delta_rot_eV_per_atom",
            "rotation_dE_eV_per_atom",
            "force_equiv_max_eV_per_A",
            "force_equiv_rms_eV_per_A",
        ),
        evaluate=evaluate_equigrad,
        has_reference=False,
    ),
}


def run_one(
    task: str,
    model: LoadedModel,
    dataset: str,
    material_id: str,
    settings: Any,
    data_dir: Path | None = None,
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
        "dataset": dataset,
        "material_id": material_id,
        "settings_digest": settings_digest(settings),
    }
    clock = ModelClock()
    if os.environ.get("BENCH_TEST_SLOW_S"):  # fault injection (tests): a slow material
        time.sleep(float(os.environ["BENCH_TEST_SLOW_S"]))
    try:
        if os.environ.get("BENCH_TEST_BUG_ON") == material_id:  # fault injection (tests)
            raise KeyError("injected bug")
        with time_limit(timeout_s), model_clock(model) as clock:
            TASKS[task].evaluate(model, dataset, material_id, settings, data_dir, batch, partial)
        status, error_type, message = "ok", None, None
    except MaterialError as err:  # this material's failure: recorded, the run goes on
        status, error_type, message = err.status, type(err).__name__, str(err) or repr(err)
    except Exception as err:  # neither the material's nor the model's: a bug, stop the run
        where = traceback.extract_tb(err.__traceback__)[-1]
        raise BenchBugError(
            f"{task} {material_id}: {type(err).__name__}: {err} at {Path(where.filename).name}"
            f":{where.lineno} (a bug in bench? rerun with --debug for the traceback)"
        ) from err
    # seconds inside the model (every calculator call and batched force call): the rest of
    # the wall time is the harness (optimiser bookkeeping, phonopy, fit, I/O)
    timings = dict(partial.get("timings_s") or {})
    timings["model"] = clock.seconds
    timings["model_calls"] = clock.calls
    partial["timings_s"] = timings
    # the worker process's peak memory so far (its largest material up to this one)
    partial["details"] = {**(partial.get("details") or {}), "worker_peak_rss_MB": peak_rss_mb()}
    return {
        **base,
        "status": status,
        "error_type": error_type,
        "error_message": message,
        "values": partial.get("values"),
        "ref": partial.get("ref"),
        "details": partial.get("details"),
        "timings_s": partial.get("timings_s"),
        "wall_s": time.perf_counter() - t0,
    }


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`MaterialTimeout` in this thread after ``seconds`` (SIGALRM; the main
    thread of a process, as in bench's workers; elsewhere, e.g. Dask's threads, no limit)."""
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise MaterialTimeout(f"still running after the time limit of {seconds:g} s per material")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
