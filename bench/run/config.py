"""A run's configuration, its validation, and what every material of it shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.datasets import resolve_subset
from bench.engines import choose_engine
from bench.errors import ConfigurationError, ModelUnavailableError
from bench.limits import LOAD_TIMEOUT_S
from bench.models import LoadedModel, resolve, unavailable_reason
from bench.models.devices import resolve_device
from bench.models.weights import require_weights
from bench.protocols import effective_settings
from bench.run.gpus import record_device, run_gpus
from bench.run.options import check_options
from bench.settings import settings_dict, settings_digest, settings_from_dict
from bench.tasks import TASKS, Material, run_one
from bench.terminal import shown

#: the first registered task (Table 2's first column): the default of a RunConfig
DEFAULT_TASK = next(iter(TASKS))

DEFAULT_MATERIAL_TIMEOUT_S = 7200.0


@dataclass(frozen=True)
class RunConfig:
    """What to run and how. Only ``settings`` changes numbers; the rest is logistics."""

    model: str  # catalogue key or alias, models-file entry, plug-in, or ``module:function``
    model_args: tuple[str, ...] = ()  # ``KEY=VALUE`` kwargs of an import path's factory
    task: str = DEFAULT_TASK
    subset: str = "mdr-smoke"
    materials: tuple[str, ...] | None = None  # explicit ids instead of the whole subset
    limit: int | None = None
    workers: int = 1
    #: torch threads per worker; None: ``OMP_NUM_THREADS`` when the user set it, else this
    #: machine's cores / workers (bench.run.threads.default_threads). Set it when several
    #: runs share one machine (two runs of 2 threads on 2 cores oversubscribe them)
    threads: int | None = None
    device: str | None = None
    #: GPU indices the workers are spread over, round-robin (bench.run.gpus); None: every
    #: visible GPU when the device is cuda, else none
    gpus: tuple[int, ...] | None = None
    dtype: str | None = None  # None: the family's most precise dtype (second-order quantities)
    #: bench.engines: None or "ase" (one material at a time), "torch-sim" (batches across
    #: materials; a family without a torch-sim adapter runs with ase, said in one line)
    engine: str | None = None
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
    #: also push to ``records_dir`` every this many seconds (None: only when the run ends), so
    #: a run killed without warning (SIGKILL, a node lost) loses at most that much
    push_every_s: float | None = None
    #: pushes to ``records_dir`` also copy the records' artifacts (kept force constants);
    #: off by default, so committed records stay small (bench.run.records.RECORDS_BUDGET_MB)
    push_artifacts: bool = False
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
    #: the records' label instead of the model's key (``--name``); a catalogue model's
    #: records are labelled ``key@name``, so tables still know its family and defaults
    name: str | None = None
    #: the quick contract check before the first material (``--no-check``: False, recorded)
    check: bool = True

    @property
    def load_timeout_s(self) -> float:
        """How long loading the model may take [s]: :data:`bench.limits.LOAD_TIMEOUT_S`, or
        ``material_timeout_s`` when that is smaller."""
        return min(LOAD_TIMEOUT_S, self.material_timeout_s or LOAD_TIMEOUT_S)

    def __post_init__(self) -> None:
        check_options(self)  # one line naming the option, before anything runs


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
    #: error type -> how many of this run's materials failed with it
    errors: dict[str, int] = field(default_factory=dict)
    #: failed materials of earlier runs left as they are (``--retry-failures`` runs them)
    n_failed_kept: int = 0


def prepare(config: RunConfig, planning: bool = False) -> tuple[Any, str, list[str], Any]:
    """Validate a run before any work: model, task, subset, data. Raises ConfigurationError.
    ``planning`` (``--dry-run``): GPUs named by ``--gpus`` need not be on this machine.

    Returns (model spec, dataset, material ids, the effective settings:
    :func:`bench.protocols.effective_settings`).
    """
    check_options(config)  # also checked when it was made; a replace() may skip that
    if not planning and not config.scheduler:  # a Dask cluster's workers have the GPUs
        resolve_device(config.device)  # an unknown device, or cuda without CUDA: one line now
    run_gpus(config.device, config.gpus, planning)  # --gpus against the device and machine
    if config.task not in TASKS:
        raise ConfigurationError(f"unknown task {config.task!r}; choose from {', '.join(TASKS)}")
    check_records_dirs(config.out_dir, config.records_dir)
    spec = resolve(config.model, config.model_args)
    reason = unavailable_reason(spec)
    if reason:
        raise ModelUnavailableError(f"model {spec.key} cannot run here: {reason}")
    if config.checkpoint and spec.checkpoint is None and spec.ref is None:
        raise ConfigurationError(f"--checkpoint: model {spec.key} takes no weights file")
    takes = spec.options.get("takes")
    if config.checkpoint and takes is not None and "checkpoint" not in takes:
        raise ConfigurationError(
            f"--checkpoint: {spec.options['import']} takes no checkpoint argument"
        )
    require_weights(spec, config.checkpoint)  # seconds, not a download's retries
    try:
        dataset, ids = resolve_subset(config.subset, as_path(config.data_dir))
    except ValueError as err:
        raise ConfigurationError(str(err)) from err
    if config.materials:
        unknown = sorted(set(config.materials) - set(ids))
        if unknown:
            raise ConfigurationError(f"not in subset {config.subset}: {shown(', '.join(unknown))}")
        ids = [i for i in ids if i in set(config.materials)]
    if config.limit is not None:
        ids = ids[: config.limit]
    settings = effective_settings(
        spec.token,
        config.task,
        dataset,
        protocol=config.protocol,
        dtype=config.dtype,
        overrides=config.overrides,
        base=config.settings,
        engine=choose_engine(config.engine, spec.family, config.task),
    )
    return spec, dataset, ids, settings


def check_records_dirs(out_dir: str, records_dir: str | None) -> None:
    """A run's store never goes into committed records, and committed records come from
    committed code: ConfigurationError otherwise.

    ``--out`` naming a records folder would put a ``bench.sqlite`` there, after which every
    reader takes the folder for an (empty) store. Records pushed to a folder inside this source
    checkout while it has uncommitted changes would carry numbers no commit reproduces.
    """
    from bench.run.manifest import git_commit, source_root
    from bench.run.records import is_records_dir

    if is_records_dir(out_dir):
        raise ConfigurationError(
            f"--out {out_dir} holds committed records, not a run's store: give it as "
            f"--records {out_dir} and --out a run folder (default: runs)"
        )
    if records_dir is None:
        return
    if Path(out_dir).resolve() == Path(records_dir).resolve():
        raise ConfigurationError("--out and --records must be different folders")
    inside = Path(records_dir).resolve().is_relative_to(source_root())
    if inside and (git_commit() or "").endswith("-dirty"):
        raise ConfigurationError(
            f"--records {records_dir} is committed with this checkout, which has uncommitted "
            "changes outside results/ (git status): commit or stash them first, so every "
            "record names the commit that made it"
        )


def as_path(value: str | None) -> Path | None:
    """``value`` as a Path, None for None or empty."""
    return Path(value) if value else None


@dataclass(frozen=True)
class Job:
    """What every material of a run shares; a worker gets it with each material id (it
    pickles, and travels as JSON to a worker in another environment)."""

    task: str
    dataset: str
    settings: Any
    data_dir: Path | None = None
    batch: bool = True
    timeout_s: float | None = None
    #: the dtype the workers load the model with, when not ``settings.dtype``: ``native`` for
    #: a factory that chose its own precision, whose name the settings carry (resolved once,
    #: in the process that checked the model, so every worker hashes the same digest)
    load_dtype: str | None = None

    @classmethod
    def of(
        cls, config: RunConfig, dataset: str, settings: Any, load_dtype: str | None = None
    ) -> Job:
        """The job of ``config`` on ``dataset`` with its effective ``settings``."""
        data_dir = as_path(config.data_dir)
        return cls(
            config.task,
            dataset,
            settings,
            data_dir,
            config.batch,
            config.material_timeout_s,
            load_dtype,
        )

    @property
    def model_dtype(self) -> str:
        """The dtype the workers load the model with (``--dtype`` of a worker)."""
        return self.load_dtype or self.settings.dtype

    def run(self, model: LoadedModel, material_id: str) -> dict[str, Any]:
        """The record of one material (:func:`bench.tasks.run_one`; never raises for the
        material's or the model's failure), with the device that made it in its details."""
        material = Material(self.dataset, material_id, self.data_dir)
        record = run_one(self.task, model, material, self.settings, self.batch, self.timeout_s)
        record["details"] = {**(record.get("details") or {}), **record_device(model.device)}
        return record

    def to_json(self) -> dict[str, Any]:
        """Plain values, with the settings digest to check on arrival."""
        return {
            "task": self.task,
            "dataset": self.dataset,
            "settings": settings_dict(self.settings),
            "digest": settings_digest(self.settings),
            "data_dir": str(self.data_dir) if self.data_dir else None,
            "batch": self.batch,
            "timeout_s": self.timeout_s,
            "load_dtype": self.load_dtype,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        """Inverse of :meth:`to_json`; ValueError when the settings changed in transit."""
        settings = settings_from_dict(TASKS[data["task"]].settings_cls, data["settings"])
        if settings_digest(settings) != data["digest"]:
            raise ValueError("settings changed in transit (different bench versions?)")
        data_dir = as_path(data["data_dir"])
        return cls(
            data["task"],
            data["dataset"],
            settings,
            data_dir,
            data["batch"],
            data["timeout_s"],
            data.get("load_dtype"),
        )
