"""Local process pool that survives a dying worker (out of memory, segfault)."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
from collections.abc import Iterator
from typing import Any

from bench.run.config import Job, RunConfig
from bench.run.gpus import worker_device, worker_envs
from bench.run.runlog import log_path
from bench.run.schedule import run_alone
from bench.run.worker import init_worker, work
from bench.tasks import worker_died_record


def execute_pool(
    config: RunConfig, job: Job, model: str, ids: list[str], workers: int, threads: int
) -> Iterator[dict[str, Any]]:
    """Records of ``ids`` from a spawn pool of ``workers`` processes, ``threads`` each.

    When a worker dies the pool breaks and which material killed it is unknown. The materials
    that may have been in flight — the first ``workers + 1`` unfinished ones in submission
    order (the pool runs them in order, one queued ahead) — are then run one at a time, each
    alone in a fresh one-worker pool with all threads: an innocent one gives its normal
    record, the culprit kills its pool again and is recorded as failed (``WorkerDied``). The
    rest continue in a new pool.
    """
    pending = list(ids)
    while pending:
        done: set[str] = set()
        try:
            for record in pool_records(config, job, model, pending, workers, threads):
                done.add(record["material_id"])
                yield record
            return
        except cf.process.BrokenProcessPool:
            unfinished = [i for i in pending if i not in done]
        suspects = unfinished[: workers + 1]
        for material_id in suspects:
            try:
                yield from pool_records(config, job, model, [material_id], 1, os.cpu_count() or 1)
            except cf.process.BrokenProcessPool:
                yield worker_died_record(
                    model,
                    job.task,
                    job.dataset,
                    material_id,
                    job.settings,
                    "alone in its worker",
                )
        pending = unfinished[len(suspects) :]


def pool_records(
    config: RunConfig, job: Job, model: str, ids: list[str], workers: int, threads: int
) -> Iterator[dict[str, Any]]:
    """Records of ``ids`` from a fresh spawn pool; BrokenProcessPool if a worker dies.

    At most ``workers + 1`` materials are submitted at a time (the pool's own look-ahead), in
    the order given: the client holds no finished futures, so its memory stays flat over a
    run of any length, and the unfinished materials in flight are always the first
    ``workers + 1`` unfinished ones (what :func:`execute_pool` re-runs after a crash). A
    material too big to share the machine (:func:`bench.run.schedule.run_alone`) runs with
    nothing beside it, on the torch threads of all ``workers`` (its worker takes the cores the
    others leave idle). Ctrl-C or SIGTERM ends the workers at once.
    """
    envs = worker_envs(config, workers)
    context = WorkerEnvContext(envs) if envs else multiprocessing.get_context("spawn")
    alone = run_alone(job, ids, config.alone_above_atoms) if workers > 1 else set()
    log = str(log_path(config.out_dir))
    initargs = (
        model,
        worker_device(config),
        job.model_dtype,
        config.checkpoint,
        threads,
        os.getpid(),
        log,
        config.load_timeout_s,
    )
    pool = cf.ProcessPoolExecutor(workers, context, init_worker, initargs)
    feeder = _Feeder(pool, job, ids, alone, workers * threads)
    try:
        running = feeder.submit(workers + 1)
        while running:
            finished, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                record = future.result()
                feeder.finished(future)
                running |= feeder.submit(workers + 1 - len(running))
                yield record
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for child in multiprocessing.active_children():  # not wait for a material to end
            child.terminate()
        raise
    pool.shutdown(wait=True)


class WorkerEnvContext(multiprocessing.context.SpawnContext):
    """A spawn context whose n-th process starts with ``envs[n % len(envs)]`` added to its
    environment (its GPU: :func:`bench.run.gpus.gpu_env`), set in the parent around the
    spawn, so the worker has it before anything in it starts (CUDA reads it once, at its
    initialisation)."""

    def __init__(self, envs: list[dict[str, str]]) -> None:
        super().__init__()
        self.envs, self.started = envs, 0

    def Process(self, *args: Any, **kwargs: Any) -> multiprocessing.context.SpawnProcess:
        env = self.envs[self.started % len(self.envs)]
        self.started += 1
        return _EnvProcess(env, *args, **kwargs)


class _EnvProcess(multiprocessing.context.SpawnProcess):
    """A spawned process started with ``env`` added to the parent's environment."""

    _lock = threading.Lock()  # one spawn at a time changes this process's environment

    def __init__(self, env: dict[str, str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extra_env = env

    def start(self) -> None:
        with self._lock:
            before = {key: os.environ.get(key) for key in self.extra_env}
            os.environ.update(self.extra_env)
            try:
                super().start()
            finally:
                for key, value in before.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value


class _Feeder:
    """Submits the materials of ``ids`` in order, a material of ``alone`` only when nothing
    runs (with ``alone_threads`` torch threads), and nothing after it until it is done."""

    def __init__(
        self, pool: cf.Executor, job: Job, ids: list[str], alone: set[str], alone_threads: int
    ) -> None:
        self.pool, self.job, self.alone, self.alone_threads = pool, job, alone, alone_threads
        self.queue, self.next = ids, 0
        self.futures: dict[cf.Future, str] = {}

    def submit(self, n: int) -> set[cf.Future]:
        """The next ``n`` materials (fewer at the end, or before or beside an alone one)."""
        out: set[cf.Future] = set()
        running = set(self.futures.values())
        while len(out) < n and self.next < len(self.queue):
            material_id = self.queue[self.next]
            if running & self.alone or (running and material_id in self.alone):
                break
            self.next += 1
            threads = self.alone_threads if material_id in self.alone else None
            future = self.pool.submit(work, self.job, material_id, threads)
            self.futures[future] = material_id
            running.add(material_id)
            out.add(future)
        return out

    def finished(self, future: cf.Future) -> None:
        """``future``'s material is no longer running."""
        self.futures.pop(future)
