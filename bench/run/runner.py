"""Run a model over a subset: resume, claims, progress, records into the store.

The model travels as its string key: each worker process loads it once
(:mod:`bench.run.worker`, :mod:`bench.run.envworker`, :mod:`bench.run.dask_executor`) and
evaluates materials with a :class:`bench.run.config.Job`. Records come back to this process,
which alone writes the store, one committed row per material.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench.datasets import dataset_checksums, size_hints
from bench.errors import ModelUnavailableError, RecordsError, warn
from bench.models import local_checkpoint, resolve
from bench.models.checkpoints import file_sha256
from bench.models.ownenv import check_python
from bench.models.registry import SPECS
from bench.run.config import Job, RunConfig, RunSummary, prepare
from bench.run.dask_executor import execute_dask
from bench.run.envworker import execute_remote, worker_python
from bench.run.gpus import run_device
from bench.run.heartbeat import Heartbeat
from bench.run.manifest import build_manifest, run_fields
from bench.run.pool import execute_pool
from bench.run.precheck import check_state, probe_run, refuse_broken, resolved_dtype
from bench.run.progress import Progress
from bench.run.records import final_push, load_into, push
from bench.run.resume import check_resume, files_of
from bench.run.runlog import append_log
from bench.run.schedule import LPT_WINDOW_PER_WORKER, largest_first_within_windows
from bench.run.store import Store
from bench.run.threads import default_threads, oversubscription_hint
from bench.run.worker import execute_here, forget_local_models
from bench.settings import settings_dict, settings_digest
from bench.terminal import echo, shown

#: materials claimed at a time (at least 8 per worker), and how old a claim's heartbeat may
#: get before another run takes it over (the owner renews it every 30 s)
CLAIM_WINDOW = 32
CLAIM_STALE_S = 300.0

#: results folder -> records this process wrote there, and whether a run began (what a stop
#: left behind, :func:`bench.cli.interrupted_words`)
STORED: dict[str, int] = {}
STARTED: list[str] = []


def run(config: RunConfig, on_record: Callable[[dict[str, Any]], None] | None = None) -> RunSummary:
    """Run ``config``: skip finished materials, evaluate the rest, store each record.

    The model is checked before the store is created: its weights at hand (and, run in this
    process, loaded), so a model that cannot run leaves no folder behind.
    """
    spec, dataset, ids, settings = prepare(config)
    probed = probe_model(config, spec, settings.dtype, (dataset, ids))
    settings, load_dtype, label = recorded_as(config, spec, settings, probed["fingerprint"])
    job = Job.of(config, dataset, settings, load_dtype)
    device = run_device(config, probed["fingerprint"]["device"])
    checkpoint = local_checkpoint(spec, config.checkpoint)
    checkpoint_sha = file_sha256(str(checkpoint)) if checkpoint else None
    if config.check:
        refuse_broken(label, probed)  # before any store: the check table, exit 1
    digest = settings_digest(settings)
    group = {"model": label, "task": config.task, "dataset": dataset, "settings_digest": digest}
    if config.progress:
        _announce(label, config.task, device, settings.dtype)
    STARTED.append(str(config.out_dir))
    with Store(config.out_dir) as store:
        append_log(config.out_dir, probed.pop("output", ""))
        if config.records_dir:
            load_into(store, config.records_dir, **group)
        done = store.finished(*group.values(), include_failures=not config.retry_failures)
        todo = [i for i in ids if i not in done]
        if config.workers > 1 or config.executor == "dask":
            length = getattr(job.settings, "supercell_min_length_A", None)
            hints = size_hints(dataset, todo, job.data_dir, length)
            todo = largest_first_within_windows(todo, hints, LPT_WINDOW_PER_WORKER * config.workers)
        # Every data file is located (or downloaded) before any model work: missing data is one
        # clear error now; a corrupt file becomes that material's failure record later.
        checksums = dataset_checksums(dataset, ids, job.data_dir)
        resumed = [i for i in ids if i in done]
        used = files_of(dataset, resumed, job)
        check_resume(store, group, used, checkpoint_sha, spec, probed["fingerprint"])
        weights = (checkpoint, checkpoint_sha)  # the file (None: upstream's), its sha256
        manifest = run_fields(config, spec, group, job, device, weights, checksums, len(ids))
        manifest["model_fingerprint"] = probed["fingerprint"]
        manifest["contract_check"] = check_state(config, probed)
        if config.progress and todo and config.executor == "local":
            _hint_threads(config)
        run_id = store.start_run(build_manifest(**manifest), settings_dict(settings))
        summary = RunSummary(
            label, config.task, dataset, digest, store.path, run_id, len(ids), len(ids) - len(todo)
        )
        if not config.retry_failures:  # failures of earlier runs, kept as they are
            ok = store.finished(*group.values(), include_failures=False)
            summary.n_failed_kept = len((done & set(ids)) - ok)
        progress = Progress(len(todo), label, config.progress, config.workers)  # task: above
        on_record = _pushing(on_record, store, config, group)
        try:
            with Heartbeat(store.out_dir, run_id), progress:
                _run_claimed(config, job, spec.token, store, todo, summary, progress, on_record)
        finally:
            store.release(run_id)
            if config.records_dir:  # also after Ctrl-C: what finished is committed-ready
                final_push(store, config, group)
        return summary


def recorded_as(
    config: RunConfig, spec: Any, settings: Any, fingerprint: dict[str, Any]
) -> tuple[Any, str | None, str]:
    """Settings (a factory's own dtype named from ``fingerprint``: :func:`resolved_dtype`), load
    dtype and label of ``config``'s records: the run and its plan (``--dry-run``) take them here."""
    settings, load_dtype = resolved_dtype(settings, fingerprint)
    explicit = local_checkpoint(spec, config.checkpoint) if config.checkpoint else None
    sha = file_sha256(str(explicit)) if explicit else None
    return settings, load_dtype, model_label(spec.key, config.checkpoint, sha, config.name)


def probe_model(
    config: RunConfig, spec: Any, dtype: str, materials: tuple[str, list[str]] | None = None
) -> dict[str, Any]:
    """The model's probes (:func:`bench.run.precheck.probe_run`; ``materials``: the data set
    and the run's ids), loaded as its workers load it; its own interpreter checked first (one
    line naming what that environment lacks)."""
    python = None if config.executor == "dask" else config.worker_python or worker_python(spec)
    try:
        probed = probe_run(config, spec, dtype, python, materials)
    except ModelUnavailableError:
        if python is not None:
            check_python(python, spec, config.load_timeout_s)  # what that env lacks
        raise
    if not _runs_here(config, python):
        forget_local_models()  # the workers load their own
    return probed


def _runs_here(config: RunConfig, python: str | None) -> bool:
    """Whether the materials are evaluated in this process (:func:`_execute`)."""
    one = config.workers == 1 and not config.isolate and config.executor == "local"
    return one and python is None


def _announce(label: str, task: str, device: str, dtype: str) -> None:
    """The run's first line on stderr (shown with the progress bar): model, task, device."""
    echo(f"bench: {shown(label)} {task} on {shown(device)} ({dtype})", file=sys.stderr)


def _hint_threads(config: RunConfig) -> None:
    """On a busy machine, say that ``--threads`` avoids oversubscribing its cores (shown with
    the progress bar only: a quiet run's stderr stays its errors)."""
    hint = oversubscription_hint(config.workers, config.threads)
    if hint:
        echo(hint, file=sys.stderr)


def _pushing(
    on_record: Callable[[dict[str, Any]], None] | None,
    store: Store,
    config: RunConfig,
    group: dict[str, str],
) -> Callable[[dict[str, Any]], None] | None:
    """``on_record``, followed by a push to ``config.records_dir`` whenever
    ``config.push_every_s`` seconds have passed since the last one."""
    every = config.push_every_s
    if not config.records_dir or every is None:
        return on_record
    last = time.monotonic()
    failed: list[Exception] = []  # warned once

    def hook(record: dict[str, Any]) -> None:
        nonlocal last
        if on_record is not None:
            on_record(record)
        if time.monotonic() - last >= every:
            try:
                push(store, config.records_dir, config.push_artifacts, **group)
            except (OSError, RecordsError) as err:  # the run goes on; the end pushes again
                if not failed:
                    warn(f"push to {config.records_dir} failed ({err}); retried at the end")
                failed.append(err)
            last = time.monotonic()

    return hook


def _run_claimed(
    config: RunConfig,
    job: Job,
    model_key: str,
    store: Store,
    todo: list[str],
    summary: RunSummary,
    progress: Progress,
    on_record: Callable[[dict[str, Any]], None] | None,
) -> None:
    """Claim ``todo`` window by window (a second run on this store skips what this one is
    doing and takes over the claims of a run that died), evaluate, store each record."""
    group = {
        "model": summary.model,
        "task": summary.task,
        "dataset": summary.dataset,
        "settings_digest": summary.settings_digest,
    }
    window = max(CLAIM_WINDOW, 8 * config.workers)
    for start in range(0, len(todo), window):
        part = todo[start : start + window]
        mine = store.claim(
            group, part, summary.run_id, CLAIM_STALE_S, skip_failures=not config.retry_failures
        )
        summary.n_elsewhere += len(part) - len(mine)
        progress.skipped(len(part) - len(mine))
        progress.queue(mine)
        for record in _execute(config, job, model_key, mine):
            record["model"] = summary.model
            store.write(record, summary.run_id, keep_artifacts=config.keep_force_constants)
            STORED[str(config.out_dir)] = STORED.get(str(config.out_dir), 0) + 1
            summary.counts[record["status"]] = summary.counts.get(record["status"], 0) + 1
            if record["status"] != "ok":
                kind = str(record.get("error_type") or record["status"])
                summary.errors[kind] = summary.errors.get(kind, 0) + 1
            progress.done(record)
            if on_record is not None:
                on_record(record)


def _execute(config: RunConfig, job: Job, model: str, ids: list[str]) -> Iterator[dict[str, Any]]:
    """Yield one record per material, in completion order, from the executor ``config``
    names: Dask, a family environment's workers, this process, or a local pool."""
    if not ids:
        return
    workers = max(1, min(config.workers, len(ids)))
    threads = config.threads or default_threads(workers)
    if config.executor == "dask":
        yield from execute_dask(config, job, model, ids)
        return
    python = config.worker_python or worker_python(resolve(model))
    if python is not None:
        yield from execute_remote(config, job, python, model, ids, threads)
        return
    if workers == 1 and not config.isolate:
        yield from execute_here(config, job, model, ids, threads)
        return
    yield from execute_pool(config, job, model, ids, workers, threads)


def model_label(
    key: str, explicit_checkpoint: str | None, sha256: str | None, name: str | None = None
) -> str:
    """Name records carry: the key, or ``key@<sha256[:8]>`` for a ``--checkpoint`` file, so
    records of other weights never mix with the model's own. ``name`` (``--name``) replaces
    a model's own key outside the catalogue, and the suffix of a catalogue key (``key@name``:
    tables still know its family and default settings)."""
    if name:
        return f"{key}@{name}" if key in SPECS else name
    if explicit_checkpoint and sha256:
        return f"{key}@{sha256[:8]}"
    return key


#: the run API in one place: ``from bench.run.runner import RunConfig, run``
__all__ = ["RunConfig", "RunSummary", "model_label", "prepare", "recorded_as", "run"]
