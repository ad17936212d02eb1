"""``--dry-run``: what a run would do, without running or writing anything.

The plan files the run's records as the run would (:func:`bench.run.runner.recorded_as`): a
factory that chooses its own precision is loaded to name it, as the run names it in its
settings digest. It reads what is already recorded (the run's store, read-only, and
``--records``, into memory) to count the materials to run, done, and failed and kept; names the
workers and the device of each; and estimates the wall time from the recorded materials' wall
times (the same model, task and data set), or says it is unknown. It creates no store and no
folder.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.errors import ConfigurationError
from bench.models.devices import resolve_device, visible_gpu_count
from bench.models.external import NATIVE
from bench.run.config import RunConfig, prepare
from bench.run.envworker import worker_python
from bench.run.gpus import gpu_env, run_gpus, worker_gpus
from bench.run.records import load_into
from bench.run.runner import probe_model, recorded_as
from bench.run.store import STORE_NAME, Store
from bench.run.worker import forget_local_models
from bench.settings import settings_digest


@dataclass
class Plan:
    """What ``config`` would do: counts, workers (one line each), estimated wall time [s]."""

    label: str
    task: str
    subset: str
    dataset: str
    digest: str
    store: Path
    store_exists: bool
    n_total: int
    todo: list[str]
    n_done: int
    n_failed_kept: int
    workers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    estimate_s: float | None = None
    estimate_basis: str = ""


def plan(config: RunConfig) -> Plan:
    """The plan of ``config`` (ConfigurationError as the run would raise it, before work),
    under the label and settings digest the run would record (:func:`recorded_as`)."""
    spec, dataset, ids, settings = prepare(config, planning=True)
    fingerprint, loaded = _native_precision(config, spec, settings.dtype)
    settings, _, label = recorded_as(config, spec, settings, fingerprint)
    digest = settings_digest(settings)
    where = {"model": label, "task": config.task, "dataset": dataset}
    store_path = Path(config.out_dir) / STORE_NAME
    with Store.memory() as known:
        if store_path.exists():
            with Store(config.out_dir, read_only=True) as store:
                known.import_records(store.raw_records(**where))
        if config.records_dir and Path(config.records_dir).is_dir():
            load_into(known, config.records_dir, **where)
        ok = known.finished(*where.values(), digest, include_failures=False)
        recorded = known.finished(*where.values(), digest)
        walls = _walls(known.raw_records(**where), digest)
    done = recorded if not config.retry_failures else ok
    todo = [i for i in ids if i not in done]
    result = Plan(
        label,
        config.task,
        config.subset,
        dataset,
        digest,
        store_path,
        store_path.exists(),
        len(ids),
        todo,
        len(set(ids) & ok),
        0 if config.retry_failures else len(set(ids) & (recorded - ok)),
    )
    result.workers, result.notes = _workers(config, spec, len(todo))
    if loaded:
        result.notes.insert(0, loaded)
    result.estimate_s, result.estimate_basis = _estimate(walls, todo, len(result.workers))
    return result


def _native_precision(config: RunConfig, spec: Any, dtype: str) -> tuple[dict[str, Any], str]:
    """The fingerprint that names the precision of a factory that chose its own (``native``:
    the run's digest hashes that name), and a note saying the plan loaded the model for it;
    ``({}, "")`` for any other dtype. The model is loaded and probed as the run does
    (:func:`bench.run.runner.probe_model`: in its own environment too; without the contract
    checks), on this machine's CPU when the run's GPUs are not here, and dropped after."""
    if dtype != NATIVE:
        return {}, ""
    where = replace(config, check=False)
    try:
        run_gpus(config.device, config.gpus)
        if not config.scheduler:
            resolve_device(config.device)
    except ConfigurationError:  # a plan for another machine's GPUs: the weights are the same
        where = replace(where, device="cpu", gpus=None)
    try:
        found = probe_model(where, spec, dtype)["fingerprint"]
    finally:
        forget_local_models()
    return found, (
        f"{spec.key} loaded to name the precision its factory computes in "
        f"({found.get('dtype')}), which the settings digest hashes"
    )


def _walls(records: list[dict[str, Any]], digest: str) -> dict[str, dict[str, float]]:
    """Recorded wall seconds per material: ``same`` (these settings) and ``any`` settings."""
    out: dict[str, dict[str, float]] = {"same": {}, "any": {}}
    for record in records:
        if record.get("wall_s"):
            out["any"][record["material_id"]] = float(record["wall_s"])
            if record["settings_digest"] == digest:
                out["same"][record["material_id"]] = float(record["wall_s"])
    return out


def _estimate(walls: dict[str, dict[str, float]], todo: list[str], workers: int):
    """(seconds, how it was estimated) for ``todo`` over ``workers``: each material's own
    recorded wall time where there is one (these settings first), else the median of these
    settings' records (else of any settings'); (None, why) without any."""
    if not todo:
        return 0.0, "nothing to run"
    which = "same" if walls["same"] else "any"
    if not walls[which]:
        return None, "no recorded wall times of this model, task and data set"
    median = statistics.median(walls[which].values())
    own = {i: walls["same"].get(i, walls["any"].get(i)) for i in todo}
    known = [w for w in own.values() if w is not None]
    rest = len(todo) - len(known)
    total = sum(known) + median * rest
    parts = []
    if known:
        other = sum(i not in walls["same"] for i in todo if own[i] is not None)
        whose = {0: "", len(known): " (other settings)"}.get(other, f" ({other} at other settings)")
        parts.append(f"{len(known)} of {len(todo)} materials from their own records{whose}")
    if rest:
        whose = "these settings" if which == "same" else "other settings"
        parts.append(
            f"{'the other ' + str(rest) if known else str(rest)} at the median {median:.3g} s "
            f"of {len(walls[which])} recorded ({whose})"
        )
    basis = f"{', '.join(parts)}, over {max(1, workers)} workers, as measured where they ran"
    return total / max(1, workers), basis


def _workers(config: RunConfig, spec: Any, n_todo: int) -> tuple[list[str], list[str]]:
    """One line per worker the run would start (where and on which device), and notes."""
    n = min(config.workers, n_todo)
    notes: list[str] = []
    if not n:
        return [], notes
    if n < config.workers:
        notes.append(f"--workers {config.workers}: {n} started ({n_todo} materials to run)")
    if config.executor == "dask":
        where = config.scheduler or f"a local Dask cluster of {n} workers"
        return [f"dask tasks on {where} (device {config.device or 'auto'})"], notes
    python = config.worker_python or worker_python(spec)
    kind = "process" if python is None else f"process of {python}"
    gpus = run_gpus(config.device, config.gpus, planning=True)
    if gpus:
        if not visible_gpu_count():
            names = ",".join(map(str, gpus))
            notes.append(f"no CUDA device here: the plan is for a machine with GPUs {names}")
        return [
            f"{kind} on cuda:{gpu} (CUDA_VISIBLE_DEVICES={gpu_env(gpu)['CUDA_VISIBLE_DEVICES']})"
            for gpu in worker_gpus(gpus, n)
        ], notes
    device = (
        config.device if str(config.device).startswith("cuda:") else resolve_device(config.device)
    )
    here = n == 1 and not config.isolate and python is None
    return [f"this process on {device}" if here else f"{kind} on {device}"] * n, notes


def duration(seconds: float) -> str:
    """``seconds`` as ``2 h 05 min``, ``4 min 10 s`` or ``12 s``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def plan_lines(p: Plan) -> list[str]:
    """The plan as the terminal shows it."""
    kept = (
        f", {p.n_failed_kept} failed and kept (--retry-failures runs them)"
        if p.n_failed_kept
        else ""
    )
    store = (
        f"{p.store} ({'exists' if p.store_exists else 'not there yet: the run would create it'})"
    )
    lines = [
        f"plan: {p.label} {p.task} on {p.subset} ({p.dataset}, settings {p.digest})",
        f"  materials: {p.n_total}: {len(p.todo)} to run, {p.n_done} already done{kept}",
        f"  store: {store}",
        f"  workers: {len(p.workers) or 'none (nothing to run)'}",
        *(f"    worker {n}: {line}" for n, line in enumerate(p.workers)),
        *(f"  note: {note}" for note in p.notes),
    ]
    if p.estimate_s is None:
        lines.append(f"  estimated wall time: unknown ({p.estimate_basis})")
    else:
        lines.append(f"  estimated wall time: {duration(p.estimate_s)} ({p.estimate_basis})")
    return lines
