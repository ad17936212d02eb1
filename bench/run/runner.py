"""Run a model over a subset: resume, parallel workers, progress, records into the store.

The model travels as its string key: each worker process loads it once
(:func:`_init_worker`) and evaluates materials with :func:`bench.tasks.run_one`. Records come
back to this process, which alone writes the store, one committed row per material.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from bench.datasets import dataset_checksums, get_dataset, resolve_subset, size_hints
from bench.errors import BenchBugError, ConfigurationError
from bench.models import LoadedModel, load_model, local_checkpoint, resolve, unavailable_reason
from bench.models.checkpoints import file_sha256
from bench.models.registry import resolve_device
from bench.protocols import effective_settings
from bench.run.records import load_into, push
from bench.run.store import Heartbeat, Store
from bench.settings import settings_dict, settings_digest
from bench.tasks import TASKS, run_one, worker_died_record

DEFAULT_MATERIAL_TIMEOUT_S = 7200.0
#: materials claimed at a time (at least 8 per worker), and how old a claim's heartbeat may
#: get before another run takes it over (the owner renews it every 30 s)
CLAIM_WINDOW = 32
CLAIM_STALE_S = 300.0


@dataclass(frozen=True)
class RunConfig:
    """What to run and how. Only ``settings`` changes numbers; the rest is logistics."""

    model: str
    task: str = "phonons"
    subset: str = "mdr-smoke"
    materials: tuple[str, ...] | None = None  # explicit ids instead of the whole subset
    limit: int | None = None
    workers: int = 1
    device: str | None = None
    dtype: str | None = None  # None: the family's most precise dtype (second-order quantities)
    checkpoint: str | None = None
    data_dir: str | None = None
    out_dir: str = "runs"
    retry_failures: bool = False
    batch: bool = True
    settings: Any = None  # task settings dataclass; None: the protocol's
    protocol: str | None = None  # bench.protocols name; None: the data set's default
    overrides: tuple[str, ...] = ()  # --set key=value, applied to the protocol's settings
    progress: bool = True
    #: interpreter for the workers; None: this one, or the model family's own environment
    #: (bench/models/envs.py) when its package is not importable here
    worker_python: str | None = None
    executor: str = "local"  # "local" (process pool) or "dask"
    scheduler: str | None = None  # dask scheduler address; None: a LocalCluster
    #: committed records (bench/run/records.py): loaded before the run skips what is done, and
    #: what the run adds is pushed there as a new part file when it ends
    records_dir: str | None = None
    #: evaluate in a worker process even with one worker, so a material that kills it (out of
    #: memory) is a recorded WorkerDied failure instead of the end of the run
    isolate: bool = False
    #: seconds one material may take before it is recorded as ``timeout`` (None: no limit).
    #: Logistics, not a number-changing setting: kept in the run manifest, not the digest.
    #: Default: far above the slowest material measured here (CHGNet, Cv binaries of > 1,000
    #: atoms, tens of minutes), far below a stuck relaxation's hours.
    material_timeout_s: float | None = DEFAULT_MATERIAL_TIMEOUT_S
    #: a material whose size hint (atoms of the evaluated supercell) is above this runs alone,
    #: the other workers idle: None = :func:`alone_above_atoms` for this machine's memory
    alone_above_atoms: float | None = None
    #: keep each material's artifacts (the phonon task's force constants) in files beside the
    #: store (bench/run/artifacts.py); logistics, not in the digest
    keep_force_constants: bool = True


@dataclass
class RunSummary:
    """What a run did: counts and where its records are."""

    model: str
    task: str
    dataset: str
    settings_digest: str
    store: Path
    run_id: str
    n_total: int
    n_skipped: int
    counts: dict[str, int] = field(default_factory=dict)
    #: materials another live run on the same store had claimed (it records them)
    n_elsewhere: int = 0


# ---- worker side ---------------------------------------------------------------------------
_WORKER_MODEL: LoadedModel | None = None
_WORKER_ERROR: str | None = None  # why the model failed to load in this worker


_BLAS_LIMIT: Any = None  # keeps threadpoolctl's limit alive in this process


def limit_blas_threads() -> None:
    """One BLAS thread in this process (libraries already loaded, and subprocesses)."""
    global _BLAS_LIMIT
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    _BLAS_LIMIT = threadpool_limits(limits=1, user_api="blas")


def _set_threads(threads: int) -> None:
    """``threads`` for torch (the model); one thread for BLAS/LAPACK.

    The harness's linear algebra is tiny (3×3 cell filters, phonopy's small dynamical
    matrices); multithreaded OpenBLAS there fights torch's OpenMP threads for the same cores
    and made FrechetCellFilter's ``expm_frechet`` ~30× slower in a CHGNet relaxation
    (profiled on this 2-core CPU). Results are unchanged beyond rounding.
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    limit_blas_threads()
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def _exit_with_parent(parent: int) -> None:
    """End this worker when ``parent`` (the client that started it) dies: a killed ``bench
    run`` must not leave workers holding memory. A daemon thread polls the parent pid every
    2 s; a worker already orphaned when it gets here exits at once."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(2.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="bench-parent-watch").start()


def _init_worker(
    model: str,
    device: str | None,
    dtype: str,
    checkpoint: str | None,
    threads: int,
    parent: int | None = None,
) -> None:
    global _WORKER_MODEL, _WORKER_ERROR
    _exit_with_parent(parent or os.getppid())
    _set_threads(threads)
    try:
        _WORKER_MODEL = load_model(model, device=device, dtype=dtype, checkpoint=checkpoint)
    except Exception as err:  # an initializer that raises breaks the pool: report it instead
        _WORKER_ERROR = f"{model} failed to load in a worker: {type(err).__name__}: {err}"


def _work(
    task: str,
    dataset: str,
    material_id: str,
    settings: Any,
    data_dir: Path | None,
    batch: bool,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    if os.environ.get("BENCH_TEST_KILL_WORKER_ON") == material_id:  # fault injection (tests)
        os._exit(70)
    if _WORKER_MODEL is None:
        raise ConfigurationError(_WORKER_ERROR or "worker not initialised")
    return run_one(task, _WORKER_MODEL, dataset, material_id, settings, data_dir, batch, timeout_s)


# ---- client side ---------------------------------------------------------------------------
def prepare(config: RunConfig) -> tuple[Any, str, list[str], Any]:
    """Validate a run before any work: model, task, subset, data. Raises ConfigurationError.

    Returns (model spec, dataset, material ids, the effective settings:
    :func:`bench.protocols.effective_settings`).
    """
    if config.limit is not None and config.limit < 1:
        raise ConfigurationError(f"--limit must be at least 1, got {config.limit}")
    if config.material_timeout_s is not None and not config.material_timeout_s > 0:
        raise ConfigurationError("--material-timeout must be a positive number of seconds")
    if config.workers < 1:
        raise ConfigurationError(f"--workers must be at least 1, got {config.workers}")
    resolve_device(config.device)  # an unknown device, or cuda without CUDA: one line now
    if config.executor not in ("local", "dask"):
        raise ConfigurationError(f"unknown executor {config.executor!r}; choose local or dask")
    if config.task not in TASKS:
        raise ConfigurationError(f"unknown task {config.task!r}; choose from {', '.join(TASKS)}")
    spec = resolve(config.model)
    reason = unavailable_reason(spec)
    if reason:
        raise ConfigurationError(f"model {spec.key} cannot run here: {reason}")
    try:
        dataset, ids = resolve_subset(config.subset, _path(config.data_dir))
    except ValueError as err:
        raise ConfigurationError(str(err)) from err
    if config.materials:
        unknown = sorted(set(config.materials) - set(ids))
        if unknown:
            raise ConfigurationError(f"not in subset {config.subset}: {', '.join(unknown)}")
        ids = [i for i in ids if i in set(config.materials)]
    if config.limit is not None:
        ids = ids[: config.limit]
    settings = effective_settings(
        spec.key,
        config.task,
        dataset,
        protocol=config.protocol,
        dtype=config.dtype,
        overrides=config.overrides,
        base=config.settings,
    )
    return spec, dataset, ids, settings


#: largest-first reordering is confined to consecutive windows of this many materials per
#: worker, so a subset's seeded order survives: every prefix of a full-set run stays a uniform
#: random sample of the set (only the last window is partly done when a run stops)
LPT_WINDOW_PER_WORKER = 4


def largest_first_within_windows(ids: list[str], hints: dict[str, float], window: int) -> list[str]:
    """``ids`` with each consecutive window of ``window`` materials sorted largest first
    (longest-processing-time order, so no big cell straggles at the end of a window)."""
    window = max(1, window)
    out: list[str] = []
    for start in range(0, len(ids), window):
        out += sorted(ids[start : start + window], key=lambda i: -hints.get(i, 0.0))
    return out


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def run(config: RunConfig, on_record: Callable[[dict[str, Any]], None] | None = None) -> RunSummary:
    """Run ``config``: skip finished materials, evaluate the rest, store each record."""
    spec, dataset, ids, settings = prepare(config)
    data_dir = _path(config.data_dir)
    digest = settings_digest(settings)
    checkpoint = local_checkpoint(spec, config.checkpoint)
    checkpoint_sha = file_sha256(str(checkpoint)) if checkpoint else None
    label = model_label(spec.key, config.checkpoint, checkpoint_sha)
    store = Store(config.out_dir)
    group = {"model": label, "task": config.task, "dataset": dataset, "settings_digest": digest}
    if config.records_dir:
        load_into(store, config.records_dir, **group)
    try:
        done = store.finished(
            label, config.task, dataset, digest, include_failures=not config.retry_failures
        )
        todo = [i for i in ids if i not in done]
        if config.workers > 1 or config.executor == "dask":
            todo = largest_first_within_windows(
                todo, size_hints(dataset, todo, data_dir), LPT_WINDOW_PER_WORKER * config.workers
            )
        # Every data file is located (or downloaded) before any model work: missing data is one
        # clear error now; a corrupt file becomes that material's failure record later.
        checksums = dataset_checksums(dataset, ids, data_dir)
        _check_resume(store, group, done, checksums, checkpoint_sha)
        manifest = {
            "model": label,
            "model_key": spec.key,
            "task": config.task,
            "dataset": dataset,
            "subset": config.subset,
            "settings_digest": digest,
            "device": config.device or "auto",
            "dtype": settings.dtype,
            "checkpoint": str(checkpoint) if checkpoint else f"upstream: {spec.source}",
            "checkpoint_sha256": checkpoint_sha,
            "data_checksums": checksums,
            "n_materials": len(ids),
            "material_timeout_s": config.material_timeout_s,
        }
        from bench.run.manifest import build_manifest

        run_id = store.start_run(build_manifest(**manifest), settings_dict(settings))
        summary = RunSummary(
            label,
            config.task,
            dataset,
            digest,
            store.path,
            run_id,
            n_total=len(ids),
            n_skipped=len(ids) - len(todo),
        )
        progress = Progress(len(todo), f"{label} {config.task}", config.progress, config.workers)
        try:
            with Heartbeat(store.out_dir, run_id), progress:
                _run_claimed(
                    config,
                    spec.key,
                    store,
                    group,
                    todo,
                    settings,
                    data_dir,
                    summary,
                    progress,
                    on_record,
                )
        finally:
            store.release(run_id)
            if config.records_dir:  # also after Ctrl-C: what finished is committed-ready
                push(store, config.records_dir, **group)
        return summary
    finally:
        store.close()


def _run_claimed(
    config: RunConfig,
    model_key: str,
    store: Store,
    group: dict[str, str],
    todo: list[str],
    settings: Any,
    data_dir: Path | None,
    summary: RunSummary,
    progress: Progress,
    on_record: Callable[[dict[str, Any]], None] | None,
) -> None:
    """Claim ``todo`` window by window (a second run on this store skips what this one is
    doing and takes over the claims of a run that died), evaluate, store each record."""
    window = max(CLAIM_WINDOW, 8 * config.workers)
    for start in range(0, len(todo), window):
        part = todo[start : start + window]
        mine = store.claim(
            group, part, summary.run_id, CLAIM_STALE_S, skip_failures=not config.retry_failures
        )
        summary.n_elsewhere += len(part) - len(mine)
        progress.skipped(len(part) - len(mine))
        progress.queue(mine)
        for record in _execute(config, model_key, group["dataset"], mine, settings, data_dir):
            record["model"] = group["model"]
            store.write(record, summary.run_id, keep_artifacts=config.keep_force_constants)
            summary.counts[record["status"]] = summary.counts.get(record["status"], 0) + 1
            progress.done(record)
            if on_record is not None:
                on_record(record)


class Progress:
    """The progress bar: materials done, failures, and what is in flight — the first
    ``workers`` unfinished materials of the claimed window (executors run them in order) —
    with the time since the last record, refreshed every 2 s so a long material shows."""

    def __init__(self, total: int, desc: str, enabled: bool, workers: int) -> None:
        self.bar = tqdm(total=total, desc=desc, unit="mat", disable=not enabled, dynamic_ncols=True)
        self.workers, self.failed = max(1, workers), 0
        self.pending: list[str] = []
        self.last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True, name="bench-progress")
        self.enabled = enabled

    def queue(self, ids: list[str]) -> None:
        self.pending = list(ids)

    def skipped(self, n: int) -> None:
        if n:
            self.bar.update(n)

    def done(self, record: dict[str, Any]) -> None:
        if record["material_id"] in self.pending:
            self.pending.remove(record["material_id"])
        self.failed += record["status"] != "ok"
        self.last = time.monotonic()
        self._postfix()
        self.bar.update()

    def _postfix(self) -> None:
        running = self.pending[: self.workers]
        quiet = int(time.monotonic() - self.last)
        text = {"failed": self.failed}
        if running:
            text["running"] = ",".join(running) + (f" ({quiet // 60}m{quiet % 60:02d}s)")
        self.bar.set_postfix(text, refresh=False)

    def _tick(self) -> None:
        while not self._stop.wait(2.0):
            self._postfix()
            self.bar.refresh()

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        self.bar.close()


def _check_resume(
    store: Store,
    group: dict[str, str],
    done: set[str],
    checksums: dict[str, str],
    checkpoint_sha: str | None,
) -> None:
    """Resuming onto records made from other data files or other weights would mix them in
    one MAE: ConfigurationError naming what differs."""
    if not done:
        return
    for manifest in store.manifests():
        if any(manifest.get(k) != v for k, v in group.items()):
            continue
        theirs = manifest.get("data_checksums") or {}
        changed = sorted(f for f in set(theirs) & set(checksums) if theirs[f] != checksums[f])
        if changed:
            raise ConfigurationError(
                f"the records in {store.path} were made from other reference data "
                f"({', '.join(changed[:3])} changed); use another --out"
            )
        if manifest.get("checkpoint_sha256") not in (None, checkpoint_sha):
            raise ConfigurationError(
                f"the records in {store.path} were made with other weights (checkpoint "
                f"sha256 {manifest['checkpoint_sha256'][:12]}, now {str(checkpoint_sha)[:12]}); "
                "use another --out"
            )


def _execute(
    config: RunConfig,
    model: str,
    dataset: str,
    ids: list[str],
    settings: Any,
    data_dir: Path | None,
) -> Iterator[dict[str, Any]]:
    """Yield one record per material, in completion order."""
    if not ids:
        return
    workers = max(1, min(config.workers, len(ids)))
    threads = max(1, (os.cpu_count() or 1) // workers)
    if config.executor == "dask":
        from bench.run.executors import execute_dask

        yield from execute_dask(config, model, dataset, ids, settings, data_dir)
        return
    python = config.worker_python or worker_python(resolve(model))
    if python is not None:
        yield from _execute_remote(config, python, model, dataset, ids, settings, data_dir, threads)
        return
    if workers == 1 and not config.isolate:
        _set_threads(threads)
        loaded = _local_model(model, config.device, settings.dtype, config.checkpoint)
        for material_id in ids:
            yield run_one(
                config.task,
                loaded,
                dataset,
                material_id,
                settings,
                data_dir,
                config.batch,
                config.material_timeout_s,
            )
        return
    yield from _execute_pool(config, model, dataset, ids, settings, data_dir, workers, threads)


_LOCAL_MODELS: dict[tuple, LoadedModel] = {}


def _local_model(model: str, device: str | None, dtype: str, checkpoint: str | None) -> LoadedModel:
    """The model loaded in this process, once per (model, device, dtype, checkpoint)."""
    key = (model, device, dtype, checkpoint)
    if key not in _LOCAL_MODELS:
        _LOCAL_MODELS.clear()  # one model at a time
        _LOCAL_MODELS[key] = load_model(model, device=device, dtype=dtype, checkpoint=checkpoint)
    return _LOCAL_MODELS[key]


def _execute_pool(
    config: RunConfig,
    model: str,
    dataset: str,
    ids: list[str],
    settings: Any,
    data_dir: Path | None,
    workers: int,
    threads: int,
) -> Iterator[dict[str, Any]]:
    """Local process pool that survives a dying worker.

    When a worker dies (out of memory, segfault) the pool breaks and which material killed it
    is unknown. The materials that may have been in flight — the first ``workers + 1``
    unfinished ones in submission order (the pool runs them in order, one queued ahead) —
    are then run one at a time, each alone in a fresh one-worker pool with all threads: an
    innocent one gives its normal record, the culprit kills its pool again and is recorded
    as failed (``WorkerDied``). The rest continue in a new pool.
    """
    pending = list(ids)
    while pending:
        done: set[str] = set()
        try:
            for record in _pool_records(
                config, model, dataset, pending, settings, data_dir, workers, threads
            ):
                done.add(record["material_id"])
                yield record
            return
        except cf.process.BrokenProcessPool:
            unfinished = [i for i in pending if i not in done]
        suspects = unfinished[: workers + 1]
        for material_id in suspects:
            try:
                yield from _pool_records(
                    config,
                    model,
                    dataset,
                    [material_id],
                    settings,
                    data_dir,
                    1,
                    os.cpu_count() or 1,
                )
            except cf.process.BrokenProcessPool:
                yield worker_died_record(
                    model, config.task, dataset, material_id, settings, "alone in its worker"
                )
        pending = unfinished[len(suspects) :]


def _pool_records(
    config: RunConfig,
    model: str,
    dataset: str,
    ids: list[str],
    settings: Any,
    data_dir: Path | None,
    workers: int,
    threads: int,
) -> Iterator[dict[str, Any]]:
    """Records of ``ids`` from a fresh spawn pool; BrokenProcessPool if a worker dies.

    At most ``workers + 1`` materials are submitted at a time (the pool's own look-ahead), in
    the order given: the client holds no finished futures, so its memory stays flat over a
    run of any length, and the unfinished materials in flight are always the first
    ``workers + 1`` unfinished ones (what :func:`_execute_pool` re-runs after a crash).
    """
    context = multiprocessing.get_context("spawn")  # no forked torch/OpenMP state
    alone = _run_alone(config, dataset, ids, settings, data_dir) if workers > 1 else set()
    queue = _Lookahead(ids)
    with cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(model, config.device, settings.dtype, config.checkpoint, threads, os.getpid()),
    ) as pool:

        def submit(n: int) -> set[cf.Future]:
            """The next ``n`` materials of ``ids`` (fewer at the end), submitted; a material
            of ``alone`` only when nothing runs, and nothing after it until it is done."""
            out: set[cf.Future] = set()
            while len(out) < n and queue.peek() is not None:
                busy = bool(running_ids) or bool(out)
                if running_ids & alone or (busy and queue.peek() in alone):
                    break
                material_id = next(queue)
                future = pool.submit(
                    _work,
                    config.task,
                    dataset,
                    material_id,
                    settings,
                    data_dir,
                    config.batch,
                    config.material_timeout_s,
                )
                futures[future] = material_id
                running_ids.add(material_id)
                out.add(future)
            return out

        futures: dict[cf.Future, str] = {}
        running_ids: set[str] = set()

        running = submit(workers + 1)
        try:
            while running:
                finished, running = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    record = future.result()
                    running_ids.discard(futures.pop(future))
                    running |= submit(workers + 1 - len(running))
                    yield record
        except BaseException:
            for future in running:
                future.cancel()
            raise


class _Lookahead:
    """An iterator over a list that can show its next item without taking it."""

    def __init__(self, items: list[str]) -> None:
        self._items, self._next = items, 0

    def peek(self) -> str | None:
        return self._items[self._next] if self._next < len(self._items) else None

    def __iter__(self) -> _Lookahead:
        return self

    def __next__(self) -> str:
        item = self.peek()
        if item is None:
            raise StopIteration
        self._next += 1
        return item


#: measured on this machine's kind (CHGNet, MatCalc Cv binaries, results/README.md): single
#: supercells above 1,000 atoms peaked at 12-20 GB per worker, those below at a few GB
PEAK_GB_ABOVE_1000_ATOMS = 20.0


def alone_above_atoms(total_memory_gb: float) -> float:
    """Supercell size above which a material runs alone: 1,000 atoms when two such workers
    would not fit (2 × 20 GB > memory), none on a machine with room for them."""
    return 1000.0 if total_memory_gb < 2 * PEAK_GB_ABOVE_1000_ATOMS else float("inf")


def _total_memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError):
        return float("inf")


def _run_alone(
    config: RunConfig, dataset: str, ids: list[str], settings: Any, data_dir: Path | None
) -> set[str]:
    """Materials of ``ids`` too big to share the machine (phonon supercells above the
    threshold; other tasks never)."""
    if config.task != "phonons":
        return set()
    limit = config.alone_above_atoms
    if limit is None:
        limit = alone_above_atoms(_total_memory_gb())
    hints = size_hints(dataset, ids, data_dir)
    if get_dataset(dataset).format == "mdr":  # hints are file sizes there, not atoms
        return set()
    return {i for i in ids if hints.get(i, 0.0) > limit}


def worker_python(spec: Any) -> str | None:
    """The family environment's interpreter when the model cannot be imported here, else None."""
    import importlib.util

    from bench.models.envs import env_python

    if spec.env == "main" or importlib.util.find_spec(spec.package) is not None:
        return None
    python = env_python(spec.env)
    if python is None:
        raise ConfigurationError(f"{spec.key} needs its environment: bench env create {spec.env}")
    return str(python)


def _execute_remote(
    config: RunConfig,
    python: str,
    model: str,
    dataset: str,
    ids: list[str],
    settings: Any,
    data_dir: Path | None,
    threads: int,
) -> Iterator[dict[str, Any]]:
    """Like the local pool, with ``python -m bench.run.remote`` workers in another environment.

    Each worker loads the model once and exchanges JSON lines; its stderr goes to
    ``<out>/workers/<model>-<n>.log``. Each worker has one material at a time, so one that
    dies is that material's ``WorkerDied`` record and a fresh worker goes on; a model that
    fails to load stops the run (ConfigurationError), as a bug does (BenchBugError).
    """
    import json
    import queue
    import subprocess
    import threading

    log_dir = Path(config.out_dir) / "workers"
    log_dir.mkdir(parents=True, exist_ok=True)
    command = [python, "-m", "bench.run.remote", "--model", model, "--threads", str(threads)]
    for flag, value in (
        ("--device", config.device),
        ("--dtype", settings.dtype),
        ("--checkpoint", config.checkpoint),
    ):
        if value:
            command += [flag, str(value)]
    env = {**os.environ, **{v: str(threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    todo: queue.Queue[str] = queue.Queue()
    for material_id in ids:
        todo.put(material_id)
    results: queue.Queue[tuple[str, Any]] = queue.Queue()
    job = {
        "task": config.task,
        "dataset": dataset,
        "settings": settings_dict(settings),
        "digest": settings_digest(settings),
        "data_dir": str(data_dir) if data_dir else None,
        "batch": config.batch,
        "timeout_s": config.material_timeout_s,
    }
    procs: list[subprocess.Popen] = []

    def start(n: int) -> tuple[subprocess.Popen, Path]:
        log = log_dir / f"{model}-{n}.log"
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(log, "a"),  # noqa: SIM115 (closed with the process)
            text=True,
            env=env,
        )
        procs.append(proc)
        return proc, log

    def serve(n: int) -> None:
        """Feed one worker slot; a worker that dies on a material is that material's
        failure, and a fresh worker takes the slot's remaining work."""
        while True:
            proc, log = start(n)
            assert proc.stdin is not None and proc.stdout is not None
            hello = proc.stdout.readline()
            ready = json.loads(hello) if hello.strip() else {"error": f"no answer; see {log}"}
            if "error" in ready:
                results.put(("fatal", f"{model} failed to load in {python}: {ready['error']}"))
                return
            while True:
                try:
                    material_id = todo.get_nowait()
                except queue.Empty:
                    proc.stdin.close()
                    return
                proc.stdin.write(json.dumps({**job, "material_id": material_id}) + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
                if not line:
                    results.put(("died", (material_id, log)))
                    proc.wait()
                    break  # start a fresh worker for the rest
                results.put(("record", json.loads(line)))

    threads_ = []
    try:
        for n in range(max(1, min(config.workers, len(ids)))):
            thread = threading.Thread(target=serve, args=(n,), daemon=True)
            thread.start()
            threads_.append(thread)
        received = 0
        while received < len(ids):
            kind, payload = results.get()
            if kind == "fatal":
                raise ConfigurationError(
                    f"{payload}; finished materials are stored, re-run the same command to continue"
                )
            if kind == "died":
                material_id, log = payload
                received += 1
                yield worker_died_record(
                    model, config.task, dataset, material_id, settings, f"(log: {log})"
                )
                continue
            if "error" in payload and "status" not in payload:
                raise BenchBugError(f"worker: {payload['error']}")
            received += 1
            yield payload
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def model_label(key: str, explicit_checkpoint: str | None, sha256: str | None) -> str:
    """Name records carry: the key, or ``key@<sha256[:8]>`` for a ``--checkpoint`` file, so
    records of other weights never mix with the model's own."""
    if explicit_checkpoint and sha256:
        return f"{key}@{sha256[:8]}"
    return key
