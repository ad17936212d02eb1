"""A run's look at its model before any store exists: the probes of :mod:`bench.run.probe`
on the model as the workers load it (in this process, or in the model's own environment), and
the refusal, with the check table, of a model that breaks the contract."""

from __future__ import annotations

import dataclasses
from typing import Any

from bench.errors import ModelCheckError
from bench.models.external import NATIVE
from bench.models.spec import ModelSpec
from bench.run.answer import ask
from bench.run.gpus import in_process_device, worker_device
from bench.run.probe import material_fallback, probe
from bench.run.runlog import stdout_kept
from bench.run.threads import default_threads, set_threads
from bench.tasks import TASKS
from bench.testing import Check, format_checks

#: (model token, device, dtype, checkpoint, tasks needing stress, check) -> the probes of a
#: catalogue model in this process (its weights are its checkpoint's, checked by sha256)
_PROBED: dict[tuple, dict[str, Any]] = {}
#: seconds a model's own environment may take to load it and evaluate the probes
REMOTE_PROBE_TIMEOUT_S = 900.0


def stress_use(task: str) -> dict[str, str]:
    """``{task: why it needs stress}``, empty when the task does not."""
    why = TASKS[task].stress_use
    return {task: why} if why else {}


#: how many of a run's first materials the check tries on a model that evaluates no probe cell
FALLBACK_MATERIALS = 3


def probe_run(
    config: Any,
    spec: ModelSpec,
    dtype: str,
    python: str | None,
    materials: tuple[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The probes of ``config``'s model (a :class:`bench.run.config.RunConfig`) loaded as its
    workers load it: in ``python`` (its own environment) when given, else here. ``materials``
    (data set, the run's material ids): the first :data:`FALLBACK_MATERIALS` are the check's
    cells when the model evaluates no probe cell. Returns ``{"fingerprint", "checks",
    "output"}`` (``output``: what the package printed)."""
    uses = stress_use(config.task)
    dataset, ids = materials or ("", [])
    ids = list(ids[:FALLBACK_MATERIALS])
    if python is not None:
        return _remote(config, spec, dtype, python, dataset, ids)
    from bench.models.external import FAMILY
    from bench.run.worker import forget_local_models, local_model

    device = in_process_device(config)  # the first of --gpus, as a run of one worker uses
    key = (spec.token, device, dtype, config.checkpoint, tuple(uses), config.check)
    if spec.family == FAMILY:  # a factory may read other weights now: load it afresh
        forget_local_models()
        _PROBED.pop(key, None)
    if key in _PROBED:  # a catalogue model, probed by an earlier run of this process
        return {**_PROBED[key], "output": ""}
    set_threads(config.threads or default_threads(config.workers))  # as the run's
    fallback = material_fallback(dataset, ids, config.data_dir)
    with stdout_kept() as held:
        timeout = config.load_timeout_s
        model = local_model(spec.token, device, dtype, config.checkpoint, timeout)
        found = probe(model, uses, check=config.check, fallback=fallback)
    if spec.family != FAMILY and not found.get("on_materials"):  # the probes alone: reusable
        _PROBED[key] = found
    return {**found, "output": "".join(held)}


def _remote(
    config: Any, spec: ModelSpec, dtype: str, python: str, dataset: str, ids: list[str]
) -> dict[str, Any]:
    """:func:`probe_run` in another interpreter (``python -m bench.run.remote --probe``)."""
    command = [python, "-m", "bench.run.remote", "--model", spec.token, "--probe", config.task]
    if dataset and ids:
        command += ["--probe-materials", dataset, ",".join(ids)]
        if config.data_dir:
            command += ["--data-dir", str(config.data_dir)]
    for flag, value in (("--device", worker_device(config)), ("--dtype", dtype)):
        if value:
            command += [flag, str(value)]
    if config.checkpoint:
        command += ["--checkpoint", str(config.checkpoint)]
    if not config.check:
        command.append("--no-check")
    limit = min(REMOTE_PROBE_TIMEOUT_S, config.load_timeout_s)  # as its workers' load
    label = f"{spec.key}: {python} -m bench.run.remote"
    answer = ask(command, limit, label, " (loading the model, probes)")
    return {**answer.loaded(spec.key, python), "output": answer.stderr}


def checks_of(probed: dict[str, Any]) -> list[Check]:
    """The quick checks of a :func:`probe_run` answer, as :class:`Check` rows."""
    return [Check(**c) for c in probed.get("checks", [])]


def refuse_broken(label: str, probed: dict[str, Any]) -> None:
    """ModelCheckError with the check table when a quick check failed."""
    checks = checks_of(probed)
    failed = [c.name for c in checks if c.passed is False]
    if failed:
        raise ModelCheckError(
            f"model {label} fails the contract before its first material "
            f"({'; '.join(failed)}):\n{format_checks(checks)}\n"
            f"bench check-model {label} runs every check; --no-check runs it anyway"
        )


def check_state(config: Any, probed: dict[str, Any]) -> str:
    """What the manifest says of the check: ``passed`` (no check failed, one at least passed),
    ``failed``, ``not judged (...)`` (none could be made: why), or ``skipped (--no-check)``."""
    if not config.check:
        return "skipped (--no-check)"
    checks = checks_of(probed)
    if any(c.passed is False for c in checks):
        return "failed"
    if not any(c.passed for c in checks):
        why = "; ".join(f"{c.name}: {c.value}" for c in checks)[:300]
        return f"not judged ({why})"
    return "passed"


def resolved_dtype(settings: Any, fingerprint: dict[str, Any]) -> tuple[Any, str | None]:
    """``settings`` with a ``native`` dtype (a factory that chose its own precision) replaced by
    the name of the precision the loaded model computes in (the fingerprint's ``dtype``:
    :func:`bench.run.probe.computed_dtype`), and the dtype to load the model with (``native``;
    None when ``settings`` are unchanged). So the same weights in the same precision have one
    settings digest, whether the dtype was named or left to the factory."""
    if settings.dtype != NATIVE:
        return settings, None
    resolved = fingerprint.get("dtype")
    if not resolved or resolved == NATIVE:
        return settings, None
    return dataclasses.replace(settings, dtype=resolved), NATIVE
