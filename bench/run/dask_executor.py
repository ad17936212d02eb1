"""Dask executor: (model key, material id, job) tasks on a Dask cluster.

``bench run --executor dask [--scheduler tcp://HOST:PORT]``: with an address, the tasks go to
that cluster (e.g. one started by dask-jobqueue on Slurm); without, a ``LocalCluster`` with
``--workers`` single-threaded worker processes is started. Each worker process loads a model
once (a process-wide cache keyed by model, device, dtype and checkpoint) and keeps it for all
its tasks. Records stream back to the client, which alone writes the store, so resume and
``--retry-failures`` work as with the local pool. Dask reruns the tasks of a worker that dies
(up to ``ALLOWED_FAILURES`` times); the client writes each material once.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any

from bench.errors import ConfigurationError
from bench.models import LoadedModel, load_model
from bench.run.config import Job, RunConfig
from bench.run.gpus import worker_device, worker_envs
from bench.run.threads import default_threads, limit_blas_threads, thread_env
from bench.settings import settings_digest
from bench.tasks import worker_died_record

ALLOWED_FAILURES = 3
_MODELS: dict[tuple, LoadedModel] = {}


def dask_task(
    model: str, device: str | None, checkpoint: str | None, job: Job, material_id: str
) -> dict[str, Any]:
    """One material on a Dask worker (the model is loaded on first use in that process)."""
    key = (model, device, job.model_dtype, checkpoint)
    if key not in _MODELS:
        limit_blas_threads()  # see bench.run.threads.set_threads
        _MODELS[key] = load_model(model, device=device, dtype=key[2], checkpoint=checkpoint)
    return job.run(_MODELS[key], material_id)


@contextlib.contextmanager
def _client(config: RunConfig, n_materials: int) -> Iterator[Any]:
    """A client of ``config.scheduler``, or of a LocalCluster of ``config.workers``."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError as err:
        raise ConfigurationError(
            "--executor dask needs dask.distributed: pip install -e '.[dask]'"
        ) from err
    cluster = None
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        n_workers = max(1, min(config.workers, n_materials))
        envs = None if config.scheduler else worker_envs(config, n_workers)
        if config.scheduler:
            client = Client(config.scheduler, timeout="60s")
        elif envs:
            cluster = _gpu_cluster(envs, config.threads or default_threads(n_workers))
            client = Client(cluster)
        else:
            cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env=thread_env(config.threads or default_threads(n_workers)),
            )
            client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _gpu_cluster(envs: list[dict[str, str]], threads: int) -> Any:
    """A local cluster of one single-threaded worker per entry of ``envs``, each started with
    its GPU (``CUDA_VISIBLE_DEVICES``) and the resource ``GPU=1``, as a Slurm job with
    ``--gres=gpu:1`` and ``--resources GPU=1`` gives it."""
    from distributed import Nanny, Scheduler, SpecCluster

    workers = {
        n: {
            "cls": Nanny,
            "options": {
                "nthreads": 1,
                "env": {**thread_env(threads), **env},
                "resources": {"GPU": 1},
            },
        }
        for n, env in enumerate(envs)
    }
    scheduler = {"cls": Scheduler, "options": {"dashboard_address": None}}
    return SpecCluster(workers=workers, scheduler=scheduler)


def _resources(config: RunConfig) -> dict[str, int] | None:
    """What a task needs of its worker: one GPU when the run is on CUDA (one model per GPU
    worker), nothing on the CPU."""
    on_gpu = str(config.device or "").startswith("cuda") or bool(worker_envs(config, 1))
    return {"GPU": 1} if on_gpu else None


def execute_dask(
    config: RunConfig, job: Job, model: str, ids: list[str]
) -> Iterator[dict[str, Any]]:
    """Yield one record per material, in completion order, computed on a Dask cluster."""
    with _client(config, len(ids)) as client:
        from dask.distributed import as_completed
        from distributed.scheduler import KilledWorker

        digest = settings_digest(job.settings)
        device = config.device if config.scheduler else worker_device(config)
        resources = _resources(config)
        tag = hashlib.sha256(model.encode()).hexdigest()[:12]  # a token may be long JSON
        keys = {f"bench-{tag}-{job.task}-{job.dataset}-{i}-{digest}": i for i in ids}
        # One reference per unfinished task, dropped as its record is yielded: dask then
        # frees the result on the worker, so neither side grows over a long run.
        pending = {
            key: client.submit(
                dask_task,
                *(model, device, config.checkpoint, job, material_id),
                key=key,
                pure=False,
                retries=0,
                priority=len(keys) - rank,  # the runner's order: largest first
                resources=resources,
            )
            for rank, (key, material_id) in enumerate(keys.items())
        }
        try:
            for future in as_completed(list(pending.values())):
                pending.pop(future.key, None)
                try:
                    yield future.result()
                except KilledWorker as err:  # the material took its workers down
                    how = f"(dask: {type(err).__name__} after {ALLOWED_FAILURES} workers died)"
                    yield worker_died_record(
                        model, job.task, job.dataset, keys[future.key], job.settings, how
                    )
        finally:
            client.cancel(list(pending.values()))
