"""Dask executor: (model key, material id, settings) tasks on a Dask cluster.

``bench run --executor dask [--scheduler tcp://HOST:PORT]``: with an address, the tasks go to
that cluster (e.g. one started by dask-jobqueue on Slurm); without, a ``LocalCluster`` with
``--workers`` single-threaded worker processes is started. Each worker process loads a model
once (a process-wide cache keyed by model, device, dtype and checkpoint) and keeps it for all
its tasks. Records stream back to the client, which alone writes the store, so resume and
``--retry-failures`` work as with the local pool. Dask reruns the tasks of a worker that dies
(up to ``ALLOWED_FAILURES`` times); the client writes each material once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.errors import ConfigurationError

ALLOWED_FAILURES = 3
_MODELS: dict[tuple, Any] = {}


def _model(model: str, device: str | None, dtype: str, checkpoint: str | None) -> Any:
    key = (model, device, dtype, checkpoint)
    if key not in _MODELS:
        from bench.models import load_model
        from bench.run.runner import limit_blas_threads

        limit_blas_threads()  # see bench.run.runner._set_threads
        _MODELS[key] = load_model(model, device=device, dtype=dtype, checkpoint=checkpoint)
    return _MODELS[key]


def dask_task(
    model: str,
    device: str | None,
    checkpoint: str | None,
    task: str,
    dataset: str,
    material_id: str,
    settings: Any,
    data_dir: str | None,
    batch: bool,
) -> dict[str, Any]:
    """One material on a Dask worker (the model is loaded on first use in that process)."""
    from bench.tasks import run_one

    loaded = _model(model, device, settings.dtype, checkpoint)
    return run_one(
        task, loaded, dataset, material_id, settings, Path(data_dir) if data_dir else None, batch
    )


def execute_dask(
    config: Any,
    model: str,
    dataset: str,
    ids: list[str],
    settings: Any,
    data_dir: Path | None,
) -> Iterator[dict[str, Any]]:
    """Yield one record per material, in completion order, computed on a Dask cluster."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster, as_completed
        from distributed.scheduler import KilledWorker
    except ImportError as err:
        raise ConfigurationError(
            "--executor dask needs dask.distributed: pip install -e '.[dask]'"
        ) from err
    from bench.settings import settings_digest
    from bench.tasks import worker_died_record

    digest = settings_digest(settings)
    cluster = None
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        if config.scheduler:
            client = Client(config.scheduler, timeout="60s")
        else:
            import os

            n_workers = max(1, min(config.workers, len(ids)))
            threads = str(max(1, (os.cpu_count() or 1) // n_workers))
            cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env={v: threads for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")},
            )
            client = Client(cluster)
        try:
            keys = {
                f"bench-{model}-{config.task}-{dataset}-{material_id}-{digest}": material_id
                for material_id in ids
            }
            # One reference per unfinished task, dropped as its record is yielded: dask then
            # frees the result on the worker, so neither side grows over a long run.
            pending = {
                key: client.submit(
                    dask_task,
                    model,
                    config.device,
                    config.checkpoint,
                    config.task,
                    dataset,
                    material_id,
                    settings,
                    str(data_dir) if data_dir else None,
                    config.batch,
                    key=key,
                    pure=False,
                    retries=0,
                    priority=len(keys) - rank,  # the runner's order: largest first
                )
                for rank, (key, material_id) in enumerate(keys.items())
            }
            try:
                for future in as_completed(list(pending.values())):
                    pending.pop(future.key, None)
                    try:
                        yield future.result()
                    except KilledWorker as err:  # the material took its workers down
                        yield worker_died_record(
                            model,
                            config.task,
                            dataset,
                            keys[future.key],
                            settings,
                            f"(dask: {type(err).__name__} after {ALLOWED_FAILURES} workers died)",
                        )
            finally:
                client.cancel(list(pending.values()))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
