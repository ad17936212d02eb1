"""``bench run``: a model on benchmark subsets (resumes), then its MAE table and failures."""

from __future__ import annotations

import argparse
from typing import Any

from bench.commands.output import (
    DEFAULT_OUT,
    print_frame,
    print_summary,
    protocols_of,
    run_words,
    subsets_for,
)
from bench.report.metrics import summary_table
from bench.run.config import DEFAULT_MATERIAL_TIMEOUT_S, RunConfig, RunSummary, prepare
from bench.run.gpus import parse_gpus
from bench.run.runlog import log_path
from bench.run.runner import run
from bench.run.store import Store
from bench.tasks import TASKS
from bench.terminal import echo


def add_parser(sub: Any) -> None:
    """The ``run`` subcommand."""
    p = sub.add_parser("run", help="run a model on a benchmark subset (resumes)")
    p.add_argument(
        "--model",
        required=True,
        help="catalogue key or alias (see `bench models`), a models-file entry, a plug-in, or "
        "an import path module:function / module:Class returning an ASE calculator",
    )
    add_model_source_options(p)
    add_name_options(p)
    p.add_argument(
        "--task",
        default="phonons",
        choices=[*TASKS, "all"],
        help="all: the Table 2 tasks; " + "; ".join(f"{t}: {TASKS[t].summary}" for t in TASKS),
    )
    p.add_argument(
        "--subset",
        action="append",
        help="material subset, repeatable (default per task: "
        + ", ".join(f"{t} {TASKS[t].default_subset}" for t in TASKS)
        + "; tasks that need only structures take a subset of any data set)",
    )
    p.add_argument("--materials", help="comma-separated material ids within the subset")
    p.add_argument("--limit", type=int, help="first N materials of the subset")
    p.add_argument(
        "--protocol",
        help="named protocol ("
        + "; ".join(f"{t}: {', '.join(TASKS[t].protocols)}" for t in TASKS)
        + "); default: the data set's source's (datasets/*.json: protocol), else the task's "
        "first",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="change a setting (e.g. displacement_A=0.03, relax.fmax_eV_per_A=0.01); "
        "new settings digest, so records never mix with the defaults'",
    )
    _add_logistics(p)
    p.set_defaults(func=cmd_run)


def add_name_options(p: argparse.ArgumentParser) -> None:
    """``--name`` and ``--no-check``: every command that runs a model."""
    p.add_argument(
        "--name",
        help="the records' label (a row of this name in tables; a catalogue model's rows "
        "are key@NAME): tell two versions of one factory apart",
    )
    p.add_argument(
        "--no-check",
        action="store_true",
        help="skip the contract check before the first material (forces = -dE/dx, stress "
        "where the task needs it, finite values); recorded in the manifest",
    )


def add_model_source_options(p: argparse.ArgumentParser) -> None:
    """``--model-arg`` and ``--models-file`` (run, check-model, models)."""
    p.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=VALUE",
        help="keyword argument of an import path's factory, repeatable (VALUE read as YAML)",
    )
    p.add_argument(
        "--models-file",
        metavar="FILE",
        help="YAML of models (name: {import, kwargs, checkpoint, dtype, device, python})",
    )


def _add_logistics(p: argparse.ArgumentParser) -> None:
    """Options that change where and how a run goes, never its numbers."""
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--threads",
        type=int,
        help="torch threads per worker (default: $OMP_NUM_THREADS when set, else cores / "
        "workers); give 1 to each of two runs that share 2 cores",
    )
    p.add_argument(
        "--executor",
        choices=["local", "dask"],
        default="local",
        help="local process pool (default) or dask (--scheduler ADDRESS, else a LocalCluster)",
    )
    p.add_argument("--scheduler", help="dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument(
        "--gpus",
        metavar="LIST",
        help="GPU indices the workers are spread over round-robin, e.g. 0,1 (several workers "
        "per GPU allowed; each worker process sees only its GPU); default with --device cuda: "
        "every visible GPU",
    )
    p.add_argument(
        "--dtype",
        help="model precision; default for phonons and elasticity: the catalogue's "
        "second_order_dtype, else the most precise the model supports (`bench models`)",
    )
    engines = "ase (default, as the sources) or torch-sim (batched across materials; a digest)"
    p.add_argument("--engine", choices=["ase", "torch-sim"], help=engines)
    p.add_argument("--checkpoint", help="local checkpoint file (else $BENCH_CHECKPOINTS, upstream)")
    p.add_argument("--data-dir", help="reference data directory (else $BENCH_DATA, user cache)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"results directory (default {DEFAULT_OUT})")
    p.add_argument("--retry-failures", action="store_true", help="re-run recorded failures")
    _add_keeping(p)
    p.add_argument(
        "--material-timeout",
        type=float,
        metavar="SECONDS",
        help="a material running longer is recorded as a timeout (default 7200 s, "
        "bench.run.config.DEFAULT_MATERIAL_TIMEOUT_S; 0: no limit)",
    )
    p.add_argument(
        "--isolate",
        action="store_true",
        help="one worker in its own process: a material that kills it (out of memory) is a "
        "recorded failure and the run goes on",
    )
    p.add_argument("--no-batch", action="store_true", help="evaluate supercells one by one")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (materials to run, done, failed; workers and their devices; "
        "estimated wall time) and exit; runs and writes nothing",
    )


def _add_keeping(p: argparse.ArgumentParser) -> None:
    """Options on what a run keeps and where: committed records, force constants."""
    p.add_argument(
        "--records",
        metavar="DIR",
        help="committed records (e.g. results/records): resume from them, and add this run's "
        "records there as a new part file when it ends",
    )
    p.add_argument(
        "--push-every",
        type=float,
        metavar="MINUTES",
        help="with --records: also add the new records there every MINUTES (default: only "
        "when the run ends), so a run killed without warning loses at most that much",
    )
    p.add_argument(
        "--push-artifacts",
        action="store_true",
        help="with --records: also copy the kept force constants there (off: committed "
        "records stay small; a full Cv set's would be about 0.6 GB)",
    )
    p.add_argument(
        "--no-keep-force-constants",
        action="store_true",
        help="do not keep each material's force constants in <out>/artifacts (kept by default)",
    )


def config_from_args(args: argparse.Namespace, task: str, subset: str) -> RunConfig:
    """The RunConfig of ``bench run``'s options for one (task, subset)."""
    timeout = args.material_timeout
    return RunConfig(
        protocol=args.protocol,
        overrides=tuple(args.set or ()),
        model=args.model,
        model_args=tuple(args.model_arg or ()),
        task=task,
        subset=subset,
        materials=None if args.materials is None else tuple(args.materials.split(",")),
        limit=args.limit,
        workers=args.workers,
        threads=args.threads,
        executor=args.executor,
        scheduler=args.scheduler,
        device=args.device,
        gpus=parse_gpus(args.gpus) if args.gpus is not None else None,
        dtype=args.dtype,
        engine=args.engine,
        checkpoint=args.checkpoint,
        data_dir=args.data_dir,
        out_dir=args.out,
        retry_failures=args.retry_failures,
        batch=not args.no_batch,
        progress=not args.quiet,
        records_dir=args.records,
        push_every_s=None if args.push_every is None else 60.0 * args.push_every,
        push_artifacts=args.push_artifacts,
        isolate=args.isolate,
        keep_force_constants=not args.no_keep_force_constants,
        material_timeout_s=DEFAULT_MATERIAL_TIMEOUT_S if timeout is None else (timeout or None),
        name=args.name,
        check=not args.no_check,
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Run each (task, subset), then print what the run did and its table."""
    if args.models_file:
        from bench.models.external import load_models_file

        load_models_file(args.models_file)
    if args.dry_run:
        return print_plans(
            [config_from_args(args, *pair) for pair in subsets_for(args.task, args.subset)]
        )
    for task, subset in subsets_for(args.task, args.subset):
        config = config_from_args(args, task, subset)
        summary = run(config)
        print_run_table(args.out, config, summary)
        echo(run_words(summary))
        if log_path(args.out).exists():
            echo(f"the model packages' own output: {log_path(args.out)}")
    return 0


def print_plans(configs: list[RunConfig]) -> int:
    """``--dry-run``: the plan of each run, then one line saying nothing ran; exit code 0."""
    from bench.run.plan import plan, plan_lines

    for config in configs:
        echo("\n".join(plan_lines(plan(config))))
    echo("dry run: nothing was run, no store or folder was created")
    return 0


def print_run_table(out: str, config: RunConfig, summary: RunSummary) -> None:
    """The MAE (or distribution) table of the run's materials, and its failures."""
    with Store(out) as store:
        records = store.records(
            model=summary.model,
            task=summary.task,
            dataset=summary.dataset,
            settings_digest=summary.settings_digest,
        )
        records = records[records["material_id"].isin(prepare(config)[2])]
        protocols = protocols_of(store, records)
    spec = TASKS[summary.task]
    table = summary_table(records, spec.properties, spec.has_reference)
    what = (
        "MAE vs DFT [95 % bootstrap interval]"
        if spec.has_reference
        else "median, p95, max (no reference)"
    )
    echo(f"\n{what} ({config.task}, {config.subset}, settings {summary.settings_digest}):")
    print_summary(table, spec.properties, spec.has_reference, protocols)
    failures = records[records["status"] != "ok"]
    if len(failures):
        echo("\nfailures:")
        print_frame(failures[["material_id", "status", "error_type", "error_message"]])
