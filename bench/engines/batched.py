"""The torch-sim engine's run of a group of materials: relaxations in shared batches, then the
structures each task reads next (displaced supercells, strained cells) in shared batches, then
each material's task as usual on the engine's results (one record each).

A material whose start or follow-up structures fail gets its failure record from its own task
run (the same code raises there), so the others go on. A relaxation or single point that failed
in a batched phase is not computed again: its exception is raised again in the material's task
run (:mod:`bench.engines.replay`), which records it. A failure of a whole phase (the batch's
time limit, model code that exits or panics in it: :func:`guarded_phase`) is thus the recorded
failure of each material in that phase.

Each record's ``timings_s`` and ``wall_s`` carry the material's share of the batched phases
(by atoms within each model call), so the records' wall times add up to the run's;
``timings_s.cpu`` is the same for this process's CPU time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from typing import Any

from bench import limits
from bench.engines.replay import Replayed, replay_model, structure_key
from bench.engines.tsmodel import Budget, Float64Driver, Outcome, budget_for, torch_sim_model
from bench.engines.tsrelax import relax_batch
from bench.engines.tssingle import evaluate_batch
from bench.models.loaded import LoadedModel
from bench.tasks import TASKS, Material

#: the driver of the loaded model in use (one model at a time per process)
_DRIVERS: dict[int, tuple[LoadedModel, Float64Driver]] = {}


def driver_of(model: LoadedModel, family: str) -> Float64Driver:
    """The torch-sim driver of ``model``, built once per loaded model."""
    held = _DRIVERS.get(id(model))
    if held is None or held[0] is not model:
        _DRIVERS.clear()
        held = (model, Float64Driver(torch_sim_model(model, family)))
        _DRIVERS[id(model)] = held
    return held[1]


def run_batched(
    job: Any, model: LoadedModel, family: str, ids: list[str], budget: Budget | None = None
) -> Iterator[dict[str, Any]]:
    """One record per material of ``ids`` (``job``: a :class:`bench.run.config.Job` whose
    settings name the torch-sim engine), in order."""
    stages = TASKS[job.task].stages
    settings = job.settings
    driver = driver_of(model, family)
    materials = [Material(job.dataset, i, job.data_dir) for i in ids]

    starts = _each(lambda k: stages.start(materials[k], settings), range(len(materials)))
    order = sorted(starts)
    structures = [starts[k][0] for k in order]
    budget = budget or budget_for(driver, structures)

    # the batched phases run model code for many materials: the same guards as one material's
    # (bench.tasks.run_one), with its time limit times the materials in the batch
    limit = None if job.timeout_s is None else job.timeout_s * max(len(order), 1)
    outcomes, relax_wall, relax_cpu = guarded_phase(
        "relaxations", len(order), limit,
        lambda: relax_batch(structures, driver, settings.relax, budget),
    )  # fmt: skip
    relaxed = dict(zip(order, outcomes, strict=True))
    done = [k for k in order if not isinstance(relaxed[k].result, BaseException)]
    follows = _each(lambda k: stages.follow(relaxed[k].result.atoms, starts[k][1], settings), done)
    flat = [(k, atoms) for k in sorted(follows) for atoms in follows[k]]
    singles, single_wall, single_cpu = guarded_phase(
        "single points", len(flat), limit,
        lambda: evaluate_batch([atoms for _, atoms in flat], driver, budget),
    )  # fmt: skip

    relax_model_s = sum(o.seconds for o in relaxed.values()) or 1.0
    single_model_s = sum(o.seconds for o in singles) or 1.0
    for k, material in enumerate(materials):
        replayed = Replayed()
        relax_out = relaxed.get(k, Outcome())
        if k in starts:
            replayed.relaxations[structure_key(starts[k][0])] = relax_out.result
        mine = [(atoms, o) for (owner, atoms), o in zip(flat, singles, strict=True) if owner == k]
        for atoms, outcome in mine:  # results and failures alike: a failure is not redone
            if outcome.result is not None:
                replayed.singles[structure_key(atoms)] = outcome.result
        c0 = time.process_time()
        record = job.run(replay_model(model, replayed), material.material_id)
        relax_share = relax_out.seconds / relax_model_s
        single_share = sum(o.seconds for _, o in mine) / single_model_s
        shares = {
            "relax": relax_wall * relax_share,
            "single_points": single_wall * single_share,
            "cpu": time.process_time() - c0 + relax_cpu * relax_share + single_cpu * single_share,
        }
        _account(record, replayed, relax_out, [o for _, o in mine], shares, len(ids), budget)
        yield record


def _each(step: Callable[[int], Any], keys: Any) -> dict[int, Any]:
    """``step(k)`` for each of ``keys`` that does not raise: a material whose start or
    follow-up structures fail gets that failure from its own task run (the same code raises
    there)."""
    out = {}
    for k in keys:
        try:
            out[k] = step(k)
        except Exception:  # its own task run records why
            continue
    return out


def guarded_phase(
    phase: str, n: int, limit_s: float | None, call: Callable[[], list[Outcome]]
) -> tuple[list[Outcome], float, float]:
    """``call()``'s ``n`` outcomes, run within ``limit_s`` seconds and with model exits guarded
    (:mod:`bench.limits`), with the phase's wall and CPU seconds; if the batched call itself
    fails (an exception, ``sys.exit``, ``os._exit``, a library's BaseException, the time
    limit: a :class:`MaterialTimeout`), every one of the ``n`` outcomes is that failure, which
    each material's own task run then raises again and records, without computing again. The
    limit is a :class:`bench.limits.OverTime` until the phase ends: the engine's retries of a
    batch that raised (``except Exception``) do not catch it."""
    from bench.errors import MaterialTimeout

    def late() -> BaseException:
        return limits.OverTime(f"the batched {phase} did not finish within {limit_s:g} s")

    t0, c0 = time.perf_counter(), time.process_time()
    try:
        with limits.time_limit(limit_s, late), limits.exits_guarded():
            outcomes = list(call())
    except (KeyboardInterrupt, GeneratorExit):  # a stop the user asked for
        raise
    except BaseException as err:  # the materials' failure, each records it
        failure = MaterialTimeout(str(err)) if isinstance(err, limits.OverTime) else err
        outcomes = [Outcome(result=failure) for _ in range(n)]
    return outcomes, time.perf_counter() - t0, time.process_time() - c0


def logged_records(
    job: Any, model: LoadedModel, family: str, ids: list[str], log: Any
) -> Iterator[dict[str, Any]]:
    """:func:`run_batched`'s records, with what the model packages and torch-sim print going
    to the run's ``log`` (:func:`bench.run.runlog.stdout_to`)."""
    from bench.run.runlog import stdout_to

    records = run_batched(job, model, family, ids)
    while True:
        with stdout_to(log):
            record = next(records, None)
        if record is None:
            return
        yield record


def _account(
    record: dict[str, Any],
    replayed: Replayed,
    relax_out: Outcome,
    singles: list[Outcome],
    shares: dict[str, float],
    n_materials: int,
    budget: Budget,
) -> None:
    """The material's share of the batched phases in its timings and wall time, and what
    the engine did in its details."""
    timings = dict(record.get("timings_s") or {})
    engine_model_s = relax_out.seconds + sum(o.seconds for o in singles)
    engine_calls = relax_out.calls + sum(o.calls for o in singles)
    timings["model"] = timings.get("model", 0.0) + engine_model_s
    # the replayed answers were no model calls; the batched calls it took part in were
    timings["model_calls"] = timings.get("model_calls", 0) - replayed.calculator_hits + engine_calls
    timings["relax"] = timings.get("relax", 0.0) + shares["relax"]
    timings["engine_single_points"] = shares["single_points"]
    timings["cpu"] = shares["cpu"]  # this process's CPU seconds: its own and its share
    record["timings_s"] = timings
    if record.get("wall_s") is not None:
        record["wall_s"] += shares["relax"] + shares["single_points"]
    details = dict(record.get("details") or {})
    details["engine"] = {
        "name": "torch-sim",
        "version": version("torch-sim-atomistic"),
        "batch_materials": n_materials,
        "batch_limit": f"{budget.metric} <= {budget.limit:g}",
        "replayed": replayed.hits,
        "computed_live": replayed.misses,
    }
    record["details"] = details
