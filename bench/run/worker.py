"""The worker side of a local run: a process that loads the model once, by its string key,
and evaluates the materials it is sent."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from bench import limits
from bench.errors import ModelUnavailableError
from bench.limits import LOAD_TIMEOUT_S
from bench.models import LoadedModel, load_model, resolve
from bench.models.registry import resolve_device
from bench.run.config import Job
from bench.run.gpus import in_process_device
from bench.run.runlog import log_path, stdout_to, worker_output_to
from bench.run.threads import set_threads, torch_threads

_WORKER_MODEL: LoadedModel | None = None
_WORKER_ERROR: str | None = None  # why the model failed to load in this worker
_LOCAL_MODELS: dict[tuple, LoadedModel] = {}


def exit_with_parent(parent: int) -> None:
    """End this worker when ``parent`` (the client that started it) dies: a killed ``bench
    run`` must not leave workers holding memory. A daemon thread polls the parent pid every
    2 s; a worker already orphaned when it gets here exits at once."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(2.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="bench-parent-watch").start()


def init_worker(
    model: str,
    device: str | None,
    dtype: str,
    checkpoint: str | None,
    threads: int,
    parent: int | None = None,
    log: str | None = None,
    timeout_s: float | None = LOAD_TIMEOUT_S,
) -> None:
    """Pool initializer: output into the run's ``log`` (the model package's own prints stay
    off the progress bar), threads, then the model (a load failure is kept and reported by
    :func:`work`, since an initializer that raises breaks the pool)."""
    global _WORKER_MODEL, _WORKER_ERROR
    worker_output_to(log)
    exit_with_parent(parent or os.getppid())
    set_threads(threads)
    try:
        _WORKER_MODEL = load_limited(model, device, dtype, checkpoint, timeout_s)
    except Exception as err:
        _WORKER_ERROR = f"{model} failed to load in a worker: {type(err).__name__}: {err}"


def work(job: Job, material_id: str, threads: int | None = None) -> dict[str, Any]:
    """One material's record in a pool worker; ``threads``: torch threads for this material
    only (one that runs alone gets the idle workers' cores), noted in ``details``."""
    if os.environ.get("BENCH_TEST_KILL_WORKER_ON") == material_id:  # fault injection (tests)
        os._exit(70)
    if _WORKER_MODEL is None:
        raise ModelUnavailableError(_WORKER_ERROR or "worker not initialised")
    if threads is None:
        return job.run(_WORKER_MODEL, material_id)
    with torch_threads(threads):
        record = job.run(_WORKER_MODEL, material_id)
        used = _torch_threads_now()
    record["details"] = {**(record.get("details") or {}), "torch_threads": used}
    return record


def _torch_threads_now() -> int | None:
    """torch's intra-op threads in this process (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    return torch.get_num_threads()


def local_model(
    model: str,
    device: str | None,
    dtype: str,
    checkpoint: str | None,
    timeout_s: float | None = LOAD_TIMEOUT_S,
) -> LoadedModel:
    """The model loaded in this process, once per (model, device, dtype, checkpoint)."""
    key = (model, device, dtype, checkpoint)
    if key not in _LOCAL_MODELS:
        _LOCAL_MODELS.clear()  # one model at a time
        _LOCAL_MODELS[key] = load_limited(model, device, dtype, checkpoint, timeout_s)
    return _LOCAL_MODELS[key]


def execute_here(
    config: Any, job: Job, model: str, ids: list[str], threads: int
) -> Iterator[dict[str, Any]]:
    """One record per material of ``ids``, evaluated in this process in turn (the model loaded
    once, within ``config.load_timeout_s``); the model packages' output goes to the run log.
    A batched engine (``job.settings.engine`` not ``ase``) evaluates them across materials."""
    set_threads(threads)
    log = log_path(config.out_dir)
    with stdout_to(log):
        device = in_process_device(config)
        loaded = local_model(
            model, device, job.model_dtype, config.checkpoint, config.load_timeout_s
        )
    if getattr(job.settings, "engine", "ase") != "ase":  # batches across the materials
        from bench.engines.batched import logged_records

        yield from logged_records(job, loaded, resolve(model).family, ids, log)
        return
    for material_id in ids:
        with stdout_to(log):
            record = job.run(loaded, material_id)
        yield record


def forget_local_models() -> None:
    """Drop the model :func:`local_model` holds (a run whose workers load their own)."""
    _LOCAL_MODELS.clear()


def load_limited(
    model: str,
    device: str | None,
    dtype: str | None,
    checkpoint: str | None,
    timeout_s: float | None = LOAD_TIMEOUT_S,
) -> LoadedModel:
    """:func:`bench.models.load_model` within ``timeout_s`` seconds (None: no limit); a
    factory that does not return in time, calls ``sys.exit``/``os._exit`` or raises a
    library's ``BaseException`` is a :class:`ModelUnavailableError` naming the model."""
    name = resolve(model).key
    resolve_device(device)  # imports torch outside the limit: a half-imported torch is broken

    def late() -> limits.OverTime:
        return limits.OverTime(f"loading the model did not finish within {timeout_s:g} s")

    try:
        with limits.time_limit(timeout_s, late), limits.exits_guarded():
            return load_model(model, device=device, dtype=dtype, checkpoint=checkpoint)
    except BaseException as err:
        words = limits.escaped_words(err)
        if words is None:  # an Exception (the caller's to report), Ctrl-C, SIGTERM
            raise
        late_ = isinstance(err, limits.OverTime)
        raise ModelUnavailableError(
            f"{name}: {words}" if late_ else f"{name}: {words} while loading the model"
        ) from None
