"""Command line: ``bench run``, ``summary``, ``table``, ``export``, ``records``, ``baseline``,
``speed``, ``env``, ``models``, ``datasets``. Thin: parses options, calls the library,
prints; every error is one line (``--debug`` for the traceback)."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.errors import ConfigurationError

DEFAULT_OUT = "runs"


def _print_frame(frame: pd.DataFrame) -> None:
    """Left-aligned plain-text table (floats to 3 decimals)."""
    cells = frame.map(lambda v: f"{v:.3f}" if isinstance(v, float) else str(v))
    widths = {c: max(len(str(c)), *(len(x) for x in cells[c])) for c in cells.columns}
    print("  ".join(str(c).ljust(widths[c]) for c in cells.columns).rstrip())
    for _, row in cells.iterrows():
        print("  ".join(row[c].ljust(widths[c]) for c in cells.columns).rstrip())


def _print_summary(
    table: pd.DataFrame,
    properties: tuple[str, ...],
    has_reference: bool,
    protocols: dict[str, str] | None = None,
) -> None:
    """An MAE table with its 95 % intervals (:func:`bench.report.metrics.mae_display`); a
    distribution table one row per (model, property), 3 digits."""
    if table.empty:
        return
    if has_reference:
        from bench.report.metrics import mae_display

        _print_frame(mae_display(table, properties, protocols))
        return
    rows = []
    for _, row in table.iterrows():
        for prop in properties:
            rows.append(
                {
                    "model": row["model"],
                    "dataset": row["dataset"],
                    "property": prop,
                    "n": str(row[f"n_{prop}"]),
                    "failed": str(row["n_failed"]),
                    **{s: f"{row[f'{prop}.{s}']:.3g}" for s in ("median", "p95", "max")},
                }
            )
    _print_frame(pd.DataFrame(rows))


def cmd_models(args: argparse.Namespace) -> int:
    from bench.models import model_rows

    _print_frame(pd.DataFrame(model_rows()))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from bench.datasets import list_datasets, subsets
    from bench.datasets.locate import find_data_dir

    data_dir = find_data_dir(Path(args.data_dir) if args.data_dir else None)
    print(f"data directory: {data_dir or 'none found (set --data-dir or $BENCH_DATA)'}")
    by_dataset: dict[str, list[str]] = {}
    for name, dataset in subsets().items():
        by_dataset.setdefault(dataset, []).append(name)
    rows = [
        {
            "dataset": d.name,
            "task": d.task,
            "licence": d.licence,
            "subsets": ", ".join(by_dataset.get(d.name, [])),
            "upstream": d.upstream,
        }
        for d in list_datasets()
    ]
    _print_frame(pd.DataFrame(rows))
    return 0


def _subsets_for(task: str, given: list[str] | None) -> list[tuple[str, str]]:
    """(task, subset) pairs: each subset's data set decides its task; defaults per task.

    ``all`` is the Table 2 tasks. A task that needs only the structures (equigrad, lattice)
    takes a subset of any data set.
    """
    from bench.datasets import get_dataset, subsets
    from bench.report.table import DEFAULT_SUBSETS, TASK_DEFAULT_SUBSETS
    from bench.tasks import TASKS

    tasks = list(DEFAULT_SUBSETS) if task == "all" else [task]
    if not given:
        return [(t, TASK_DEFAULT_SUBSETS[t]) for t in tasks]
    if task in TASKS and TASKS[task].structure_only:
        return [(task, subset) for subset in given]
    owners = subsets()
    pairs = []
    for subset in given:
        subset_task = get_dataset(owners[subset]).task if subset in owners else tasks[0]
        if subset_task not in tasks:
            raise ConfigurationError(f"subset {subset} is a {subset_task} subset, not {task}")
        pairs.append((subset_task, subset))
    return pairs


def cmd_run(args: argparse.Namespace) -> int:
    from bench.report.metrics import summary_table
    from bench.run.config import DEFAULT_MATERIAL_TIMEOUT_S
    from bench.run.runner import RunConfig, run
    from bench.run.store import Store
    from bench.tasks import TASKS

    for task, subset in _subsets_for(args.task, args.subset):
        config = RunConfig(
            protocol=args.protocol,
            overrides=tuple(args.set or ()),
            model=args.model,
            task=task,
            subset=subset,
            materials=tuple(args.materials.split(",")) if args.materials else None,
            limit=args.limit,
            workers=args.workers,
            executor=args.executor,
            scheduler=args.scheduler,
            device=args.device,
            dtype=args.dtype,
            checkpoint=args.checkpoint,
            data_dir=args.data_dir,
            out_dir=args.out,
            retry_failures=args.retry_failures,
            batch=not args.no_batch,
            progress=not args.quiet,
            records_dir=args.records,
            isolate=args.isolate,
            material_timeout_s=(
                DEFAULT_MATERIAL_TIMEOUT_S
                if args.material_timeout is None
                else (args.material_timeout or None)
            ),
        )
        summary = run(config)
        print(
            f"{summary.n_skipped} of {summary.n_total} materials were already in "
            f"{summary.store}; this run: {summary.counts or 'nothing to do'}"
            + (
                f"; {summary.n_elsewhere} left to another run on the same store"
                if summary.n_elsewhere
                else ""
            )
        )
        with Store(args.out) as store:
            records = store.records(
                model=summary.model,
                task=summary.task,
                dataset=summary.dataset,
                settings_digest=summary.settings_digest,
            )
            records = records[records["material_id"].isin(prepare_ids(config))]
            protocols = _protocols(store, records)
        spec = TASKS[summary.task]
        table = summary_table(records, spec.properties, spec.has_reference)
        what = (
            "MAE vs DFT [95 % bootstrap interval]"
            if spec.has_reference
            else "median, p95, max (no reference)"
        )
        print(f"\n{what} ({task}, {subset}, settings {summary.settings_digest}):")
        _print_summary(table, spec.properties, spec.has_reference, protocols)
        failures = records[records["status"] != "ok"]
        if len(failures):
            print("\nfailures:")
            _print_frame(failures[["material_id", "status", "error_type", "error_message"]])
    return 0


def cmd_speed(args: argparse.Namespace) -> int:
    from bench.report.baselines import command_line
    from bench.speed.forward import append_rows, call_in_model_env, summary, write_forward

    argv = ["speed", *sys.argv[2:]]
    out = Path(args.out)
    if args.what == "forward":
        rows = []
        for model in args.model:
            rows += call_in_model_env(
                model,
                "bench.speed.forward:time_forward",
                sizes=tuple(args.sizes),
                repeats=args.repeats,
                checkpoint=args.checkpoint,
                dtype=args.dtype,
                threads=args.threads,
            )
        print(summary(rows))
        paths = write_forward(rows, out, command_line(argv))
        print("wrote " + ", ".join(str(p) for p in paths))
        return 0
    from bench.speed.throughput import client_memory, pipeline_summary, plot_pipeline

    if args.what == "client-memory":
        import tempfile

        rows = []
        for model in args.model:
            with tempfile.TemporaryDirectory() as scratch:
                rows += client_memory(
                    model,
                    args.task or "phonons",
                    args.subset or _subsets_for(args.task or "phonons", None)[0][1],
                    scratch,
                    workers=args.workers,
                    data_dir=args.data_dir,
                )
        append_rows(rows, out / "client_memory.csv", command_line(argv))
        _print_frame(pd.DataFrame(rows)[["model", "records", "client_rss_MB"]].round(1))
        print(f"wrote {out / 'client_memory.csv'}")
        return 0

    common = {
        "limit": args.limit,
        "data_dir": args.data_dir,
        "checkpoint": args.checkpoint,
        "dtype": args.dtype,
        "threads": args.threads,
    }
    task = args.task or "phonons"
    subset = args.subset or _subsets_for(task, None)[0][1]
    rows = []
    for model in args.model:
        if args.what == "pipeline":
            kwargs = {"task": task, "subset": subset, "batch": not args.no_batch, **common}
            rows += call_in_model_env(model, "bench.speed.throughput:time_pipeline", **kwargs)
        elif args.what == "batch":
            kwargs = {"subset": subset, **common}
            rows += call_in_model_env(model, "bench.speed.throughput:time_batching", **kwargs)
        else:
            kwargs = {"task": task, "subset": subset, **common}
            rows += call_in_model_env(model, "bench.speed.throughput:time_matcalc", **kwargs)
    name = {"pipeline": "pipeline", "batch": "batching", "matcalc": "matcalc"}[args.what]
    frame = append_rows(rows, out / f"{name}.csv", command_line(argv))
    latest = pd.DataFrame(rows)
    if args.what == "batch":
        cols = ["model", "material_id", "n_supercells", "n_atoms", "batched_s", "one_by_one_s"]
        _print_frame(latest[[*cols, "speedup", "max_force_diff_eV_per_A"]].round(4))
    elif args.what == "pipeline":
        _print_frame(pipeline_summary(latest).round(2))
    else:
        _print_frame(latest[["model", "material_id", "status", "wall_s", "model_s"]].round(2))
    frames = {}
    for key in ("pipeline", "batching"):
        path = out / f"{key}.csv"
        frames[key] = frame if key == name else (pd.read_csv(path) if path.exists() else None)
    png = plot_pipeline(frames["pipeline"], frames["batching"], out / "pipeline.png")
    print(f"wrote {out / f'{name}.csv'}, {png}")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from bench.models import list_models
    from bench.models.envs import PREINSTALL, create_env, env_state

    families = {s.env: (s.family, s.import_probe) for s in list_models() if s.env != "main"}
    if args.action == "list":
        for name, (_, package) in sorted(families.items()):
            print(env_state(name, package))
        return 0
    if not args.name or args.name not in PREINSTALL:
        raise ConfigurationError(f"bench env create NAME, NAME one of: {', '.join(PREINSTALL)}")
    python = create_env(args.name, families[args.name][0])
    print(f"ready: {python}")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from bench.report.baselines import baseline_files, check_baseline, command_line, make_baseline

    if args.action == "make":
        if not args.model:
            raise ConfigurationError("bench baseline make needs --model")
        task = args.task or "phonons"
        subset = args.subset or _subsets_for(task, None)[0][1]
        workers = tuple(args.workers or (1, 2))
        argv = ["baseline", "make", "--model", args.model, "--task", task, "--subset", subset]
        argv += ["--workers", *map(str, workers)]
        path = make_baseline(
            args.model, task, subset, workers, args.data_dir, Path(args.dir), command_line(argv)
        )
        print(f"wrote {path}")
        return 0
    paths = [
        p
        for p in baseline_files(Path(args.dir))
        if (not args.task or f"__{args.task}__" in p.name)
        and (not args.model or p.name.startswith(_resolved_key(args.model) + "__"))
    ]
    if not paths:
        raise ConfigurationError(f"no baseline matches in {args.dir}")
    failed = 0
    for path in paths:
        result = check_baseline(
            path, workers=(args.workers or [2])[0], overrides=args.set or (), data_dir=args.data_dir
        )
        print(result.report())
        failed += not result.ok
    return 1 if failed else 0


def _resolved_key(name: str) -> str:
    from bench.models import resolve

    return resolve(name).key


def prepare_ids(config) -> list[str]:
    """Material ids a run config covers (the subset, after --materials and --limit)."""
    from bench.run.runner import prepare

    return prepare(config)[2]


def _existing(path: str) -> str:
    """A results directory to read: a store or a records directory; else one clear error."""
    from bench.run.records import is_records_dir
    from bench.run.store import STORE_NAME

    if not (Path(path) / STORE_NAME).exists() and not is_records_dir(path):
        raise ConfigurationError(
            f"no results in {path}: neither {STORE_NAME} nor records part files "
            "(give --out the directory of a run, or a records directory)"
        )
    return path


def cmd_records(args: argparse.Namespace) -> int:
    from bench.run.records import push
    from bench.run.store import Store

    with Store(_existing(args.out)) as store:
        written = push(store, args.to, model=args.model, task=args.task)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} new part file(s) under {args.to}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from bench.report.metrics import summary_table
    from bench.run.records import open_results
    from bench.tasks import TASKS

    with open_results(_existing(args.out)) as store:
        records = store.records(model=args.model, task=args.task)
        protocols = _protocols(store, records)
    if records.empty:
        print(f"no records in {args.out}")
        return 0
    for task, group in records.groupby("task"):
        print(f"== {task}")
        if task not in TASKS:  # records of a task this version does not know
            print(f"   {len(group)} records of an unknown task")
            continue
        spec = TASKS[task]
        table = summary_table(group, spec.properties, spec.has_reference)
        _print_summary(table, spec.properties, spec.has_reference, protocols)
    return 0


def _protocols(store, records: pd.DataFrame) -> dict[str, str]:
    """Settings digest -> protocol name, from the settings the store keeps."""
    out = {}
    for digest in records["settings_digest"].unique() if len(records) else ():
        settings = store.settings_for(digest) or {}
        out[digest] = settings.get("protocol", "–")
    return out


def _run_for_table(args: argparse.Namespace, subsets: dict[str, str]) -> None:
    """Run each model on each task's subset (resuming) into the first --runs directory."""
    from bench.models import list_models, local_checkpoint, unavailable_reason
    from bench.run.runner import RunConfig, run

    models = (
        args.models.split(",")
        if args.models
        else [
            s.key
            for s in list_models()
            if s.family != "emt"
            and unavailable_reason(s) is None
            and (s.checkpoint is None or local_checkpoint(s) is not None)
        ]
    )
    for model in models:
        for task, subset in subsets.items():
            print(f"== {model} {task} {subset}", flush=True)
            config = RunConfig(
                model=model,
                task=task,
                subset=subset,
                workers=args.workers,
                data_dir=args.data_dir,
                out_dir=args.runs[0],
                progress=not args.quiet,
            )
            try:
                summary = run(config)
            except ConfigurationError as err:
                print(f"   skipped: {err}")
                continue
            print(f"   {summary.n_skipped} already done, this run: {summary.counts}")


def cmd_table(args: argparse.Namespace) -> int:
    from bench.report.table import build_table, to_markdown, write_report

    subsets = {"phonons": args.phonon_subset, "elasticity": args.elastic_subset}
    if args.run:
        _run_for_table(args, subsets)
    for directory in args.runs:  # a mistyped folder is an error, not a paper-only table
        _existing(directory)
    table = build_table(
        [Path(d) for d in args.runs],
        subsets,
        Path(args.data_dir) if args.data_dir else None,
        equigrad_subset=args.equigrad_subset,
    )
    command = (
        "bench table " + " ".join(sys.argv[2:]) if args.command_line is None else args.command_line
    )
    paths = write_report(table, Path(args.out), command)
    print(to_markdown(table))
    print(f"wrote {len(paths)} files under {args.out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bench.run.records import open_results
    from bench.run.store import export

    with open_results(_existing(args.out)) as store:
        path = export(store, args.to, model=args.model, task=args.task)
    print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from bench.tasks import TASKS

    task_names = list(TASKS)
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run a model on a benchmark subset (resumes)")
    p.add_argument("--model", required=True, help="model key or alias (see `bench models`)")
    p.add_argument(
        "--task",
        default="phonons",
        choices=[*task_names, "all"],
        help="all: the Table 2 tasks (phonons, elasticity); equigrad: rotational invariance",
    )
    p.add_argument(
        "--subset",
        action="append",
        help="material subset, repeatable (default per task: mdr-smoke, elastic-smoke; "
        "equigrad: mdr-smoke, takes a subset of any data set)",
    )
    p.add_argument("--materials", help="comma-separated material ids within the subset")
    p.add_argument("--limit", type=int, help="first N materials of the subset")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--executor",
        choices=["local", "dask"],
        default="local",
        help="local process pool (default) or dask (--scheduler ADDRESS, else a LocalCluster)",
    )
    p.add_argument("--scheduler", help="dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--dtype", help="model precision; default: most precise the model supports")
    p.add_argument("--checkpoint", help="local checkpoint file (else $BENCH_CHECKPOINTS, upstream)")
    p.add_argument("--data-dir", help="reference data directory (else $BENCH_DATA, user cache)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"results directory (default {DEFAULT_OUT})")
    p.add_argument("--retry-failures", action="store_true", help="re-run recorded failures")
    p.add_argument(
        "--records",
        metavar="DIR",
        help="committed records (e.g. results/records): resume from them, and add this run's "
        "records there as a new part file when it ends",
    )
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
        "--protocol",
        help="named protocol (phonons: mdr, matcalc; elasticity: matcalc); default: the data "
        "set's source's (MDR sets: mdr, MatCalc sets: matcalc)",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="change a setting (e.g. displacement_A=0.03, relax.fmax_eV_per_A=0.01); "
        "new settings digest, so records never mix with the defaults'",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "speed",
        help="throughput: forward time vs atoms; pipeline time split; batched vs one-by-one; "
        "matcalc's own loop",
        description="forward: model call time vs atoms. pipeline: a task on a subset in this "
        "process, time inside the model vs the harness, materials/hour. batch: displaced "
        "supercells batched vs one by one. matcalc: matcalc's own calculator loop, same model "
        "and materials. client-memory: the client's RSS every 100 records of a real run into "
        "a scratch store. Rows are appended to <out>/<what>.csv with machine and command.",
    )
    p.add_argument("what", choices=["forward", "pipeline", "batch", "matcalc", "client-memory"])
    p.add_argument("--workers", type=int, default=2, help="client-memory: pool workers")
    p.add_argument("--model", action="append", required=True, help="repeatable")
    p.add_argument("--sizes", type=int, nargs="+", default=[8, 64, 216, 512, 1000])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--task", choices=["phonons", "elasticity"], help="pipeline/matcalc task")
    p.add_argument("--subset", help="pipeline/batch/matcalc subset (default: the task's smoke)")
    p.add_argument("--limit", type=int)
    p.add_argument("--no-batch", action="store_true", help="pipeline: one-by-one forces")
    p.add_argument("--data-dir")
    p.add_argument("--checkpoint")
    p.add_argument("--dtype")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    p.add_argument("--out", default="results/speed")
    p.set_defaults(func=cmd_speed)

    p = sub.add_parser("env", help="per-family environments (mace, fairchem): list, create")
    p.add_argument("action", choices=["list", "create"])
    p.add_argument("name", nargs="?", help="environment to create (mace, fairchem)")
    p.set_defaults(func=cmd_env)

    p = sub.add_parser("baseline", help="MAE regression baselines: make or check")
    p.add_argument("action", choices=["make", "check"])
    p.add_argument("--model", help="make: model key (check: filter baseline files)")
    p.add_argument(
        "--task", choices=[t for t in task_names if TASKS[t].has_reference], default=None
    )
    p.add_argument("--subset", help="make: subset (default per task)")
    p.add_argument("--workers", type=int, nargs="+", help="make: one repeat per entry (1 2)")
    p.add_argument("--dir", default="results/baselines", help="baseline directory")
    p.add_argument("--data-dir")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="check: break a setting on purpose"
    )
    p.set_defaults(func=cmd_baseline)

    p = sub.add_parser("models", help="list models, aliases and whether they can run here")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("datasets", help="list data sets, subsets and where the data is")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("table", help="Table 2: measured MAEs beside the paper's, plots")
    p.add_argument("--runs", nargs="+", default=[DEFAULT_OUT], help="results directories to read")
    p.add_argument("--out", default="results", help="where to write table2.md/.csv and plots")
    p.add_argument("--phonon-subset", default="mdr-smoke")
    p.add_argument("--elastic-subset", default="elastic-smoke")
    p.add_argument("--equigrad-subset", default="mdr-smoke", help="subset of equigrad.md")
    p.add_argument("--data-dir")
    p.add_argument("--run", action="store_true", help="first run the models (resumes)")
    p.add_argument("--models", help="comma-separated models for --run (default: all that run here)")
    p.add_argument("--workers", type=int, default=1, help="worker processes for --run")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--command-line", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_table)

    p = sub.add_parser(
        "records",
        help="add a store's new records to committed records (append-only part files)",
    )
    p.add_argument("action", choices=["push"])
    p.add_argument("--out", default=DEFAULT_OUT, help="results directory with bench.sqlite")
    p.add_argument("--to", default="results/records", help="records directory")
    p.add_argument("--model")
    p.add_argument("--task")
    p.set_defaults(func=cmd_records)

    for name, func, text in (
        ("summary", cmd_summary, "MAE table of a results directory"),
        ("export", cmd_export, "export records to CSV or parquet"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--out", default=DEFAULT_OUT, help="results directory")
        p.add_argument("--model")
        p.add_argument("--task", choices=task_names)
        if name == "export":
            p.add_argument("--to", required=True, help="output .csv or .parquet")
        p.set_defaults(func=func)
    return parser


def _quiet_third_party_warnings() -> None:
    """Model packages warn on every call (CHGNet, SevenNet, pymatgen); keep the terminal for
    the progress bar. Set PYTHONWARNINGS (e.g. =default) to see them; spawned workers inherit."""
    if not os.environ.get("PYTHONWARNINGS"):
        os.environ["PYTHONWARNINGS"] = "ignore"
        warnings.simplefilter("ignore")


def _stop_on_sigterm() -> None:
    """SIGTERM (a cluster scheduler's stop, ``kill``) stops like Ctrl-C: finished materials
    stay stored, claims are released and ``--records`` parts are written on the way out."""
    import signal
    import threading

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (or BENCH_DEBUG=1)"
    )
    args = parser.parse_args(argv)
    _quiet_third_party_warnings()
    _stop_on_sigterm()
    if args.debug or os.environ.get("BENCH_DEBUG") == "1":
        return args.func(args)
    try:
        return _main(args)
    except Exception as err:  # a bug or an environment problem: one line, exit 1
        print(
            f"bench: error: {type(err).__name__}: {err} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


def _main(args: argparse.Namespace) -> int:
    """Run a command; expected problems become one line on stderr and an exit code."""
    import sqlite3

    try:
        return args.func(args)
    except ConfigurationError as err:
        print(f"bench: error: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:  # DataNotFoundError: missing reference data, offline
        print(f"bench: error: {err}", file=sys.stderr)
        return 2
    except (NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError) as err:
        print(f"bench: error: {err.strerror or err}: {err.filename or ''}", file=sys.stderr)
        return 1
    except sqlite3.OperationalError as err:
        hint = (
            " (another bench process holds the store; wait for it or use another --out)"
            if "locked" in str(err)
            else " (is the store a bench results directory, and writable?)"
        )
        print(f"bench: error: results store: {err}{hint}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as err:
        print(f"bench: error: results store is not a database ({err})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\nbench: interrupted; finished materials are stored, re-run to continue",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:  # e.g. `bench models | head`: the reader left, nothing is lost
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
