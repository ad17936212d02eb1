"""``bench summary``, ``table``, ``export``, ``records``: read results directories (stores
or committed records), write tables, plots and exports."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bench.commands.output import (
    DEFAULT_OUT,
    existing,
    model_labels,
    print_summary,
    protocols_of,
)
from bench.errors import ConfigurationError
from bench.tasks import TASKS, Task, reference_free_tasks, table2_tasks
from bench.terminal import echo, shown

NO_SUBSET = "none"  # a subset option's value that leaves its task out of the table


def add_parser(sub: Any) -> None:
    """The ``table``, ``report``, ``records``, ``summary`` and ``export`` subcommands."""
    _add_table_and_report(sub)
    _add_records(sub)
    _add_readers(sub)


def _add_table_and_report(sub: Any) -> None:
    p = sub.add_parser("table", help="Table 2: measured MAEs beside the paper's, plots")
    p.add_argument("--runs", nargs="+", default=[DEFAULT_OUT], help="results directories to read")
    p.add_argument("--out", default="results", help="where to write table2.md/.csv and plots")
    for task in _subset_tasks():  # --phonon-subset, --elastic-subset, --equigrad-subset
        what = "Table 2 columns" if task.table2 else f"{task.name}.md"
        p.add_argument(
            f"--{task.subset_option}",
            default=task.default_subset,
            help=f"{task.name} subset of the {what} (default {task.default_subset}, or none)",
        )
    p.add_argument("--data-dir")
    p.add_argument("--run", action="store_true", help="first run the models (resumes)")
    p.add_argument("--models", help="comma-separated models for --run (default: all that run here)")
    p.add_argument("--workers", type=int, default=1, help="worker processes for --run")
    p.add_argument("--threads", type=int, help="with --run: torch threads per worker")
    p.add_argument(
        "--models-file", metavar="FILE", help="models of this YAML too (for --run, and labels)"
    )
    p.add_argument("--name", help="with --run and one model in --models: the records' label")
    p.add_argument(
        "--no-check",
        action="store_true",
        help="with --run: skip the contract check before each model's first material",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="with --run: print each run's plan (bench run --dry-run) and exit; no table",
    )
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="with --run: exit 0 even when a requested model could not run (default: exit 1)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--recorded-only",
        action="store_true",
        help="rows only for models with records, and the paper's rows (a table that depends on "
        "the records alone, not on which checkpoints this machine has)",
    )
    p.add_argument("--command-line", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_table)

    p = sub.add_parser("report", help="static site: Table 2, parity plots, material pages")
    p.add_argument("--runs", nargs="+", default=[DEFAULT_OUT], help="results directories to read")
    p.add_argument("--out", default="results/site", help="site folder (index.html and pages)")
    sets = "(none: leave the task out; default: a section per set kind, each with records)"
    for task in _subset_tasks(table2=True):
        p.add_argument(
            f"--{task.subset_option}", help=f"one table with this {task.name} subset {sets}"
        )
    p.add_argument("--data-dir")
    p.add_argument("--command-line", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_report)


def _subset_tasks(table2: bool = False) -> list[Task]:
    """The tasks with a subset option of ``table`` (all) or ``report`` (``table2``: Table 2's)."""
    return [t for t in TASKS.values() if t.subset_option and (t.table2 or not table2)]


def _chosen_subsets(args: argparse.Namespace, table2: bool) -> dict[str, str | None]:
    """Task -> the subset its option picked (None: not given; NO_SUBSET: left out)."""
    return {t.name: getattr(args, t.subset_option.replace("-", "_")) for t in _subset_tasks(table2)}


def _add_records(sub: Any) -> None:
    p = sub.add_parser(
        "records",
        help="add a store's new records to committed records (append-only part files)",
    )
    p.add_argument("action", choices=["push"])
    p.add_argument("--out", default=DEFAULT_OUT, help="results directory with bench.sqlite")
    p.add_argument("--to", default="results/records", help="records directory")
    p.add_argument("--model")
    p.add_argument("--task")
    p.add_argument(
        "--artifacts",
        action="store_true",
        help="also copy the kept force constants the records name, also of records pushed "
        "before without them (off by default)",
    )
    p.set_defaults(func=cmd_records)


def _add_readers(sub: Any) -> None:
    for name, func, text in (
        ("summary", cmd_summary, "MAE table of a results directory"),
        ("export", cmd_export, "export records to CSV or parquet"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--out", default=DEFAULT_OUT, help="results directory")
        p.add_argument("--model")
        p.add_argument("--task", choices=list(TASKS))
        p.add_argument("--dataset", help="only this data set (bench datasets lists them)")
        if name == "export":
            p.add_argument("--to", required=True, help="output .csv or .parquet")
        else:
            p.add_argument(
                "--runs",
                action="store_true",
                help="also each run's wall time and worker time (sum of its records' wall_s)",
            )
        p.set_defaults(func=func)


def cmd_records(args: argparse.Namespace) -> int:
    from bench.run.records import push
    from bench.run.store import STORE_NAME, Store

    if not (Path(args.out) / STORE_NAME).exists():  # e.g. --out naming the records folder
        raise ConfigurationError(
            f"no {STORE_NAME} in {args.out}: --out is the run folder whose store to push, "
            f"--to the records folder ({args.to})"
        )
    if os.path.lexists(Path(args.to) / STORE_NAME):  # e.g. --to the run folder itself
        raise ConfigurationError(f"--to {args.to} holds a results store: not a records folder")
    with Store(args.out, read_only=True) as store:
        models = model_labels(store, args.model)
        written = push(store, args.to, args.artifacts, model=models, task=args.task)
    for path in written:
        echo(f"wrote {shown(path)}")
    echo(f"{len(written)} new part file(s) under {shown(args.to)}")
    return 0


def _check_dataset(name: str | None) -> None:
    """``--dataset``: a defined data set (a typo would give an empty result and exit 0)."""
    from bench.datasets import get_dataset

    if name is not None:
        try:
            get_dataset(name)
        except ValueError as err:
            raise ConfigurationError(f"--dataset: {err}") from err


def cmd_summary(args: argparse.Namespace) -> int:
    from bench.report.metrics import summary_table
    from bench.run.records import open_results
    from bench.tasks import TASKS

    _check_dataset(args.dataset)
    with open_results(existing(args.out)) as store:
        records = store.records(
            model=model_labels(store, args.model), task=args.task, dataset=args.dataset
        )
        protocols = protocols_of(store, records)
        manifests = store.manifests()
    if records.empty:
        echo(f"no records in {shown(args.out)}")
        return 0
    for task, group in records.groupby("task"):
        echo(f"== {shown(task)}")
        if task not in TASKS:  # records of a task this version does not know
            echo(f"   {len(group)} records of an unknown task")
            continue
        spec = TASKS[task]
        table = summary_table(group, spec.properties, spec.has_reference)
        print_summary(table, spec.properties, spec.has_reference, protocols)
    if args.runs:
        _print_runs(records, manifests)
    return 0


def _print_runs(records: Any, manifests: list[dict]) -> None:
    from bench.commands.output import print_frame
    from bench.report.runs import run_spans, total_row

    spans = run_spans(records, manifests)
    echo("== runs (wall_h: start to last record; worker_h: sum of the records' wall_s)")
    print_frame(spans)
    total = total_row(spans)
    echo(
        f"total: {total['runs']} runs, {total['records']} records ({total['ok']} ok, "
        f"{total['failed']} not ok), {total['wall_h']:.2f} h wall, "
        f"{total['worker_h']:.2f} worker-hours"
    )


def cmd_table(args: argparse.Namespace) -> int:
    from bench.commands.tablerun import run_for_table
    from bench.report.markdown import to_markdown
    from bench.report.table import build_table
    from bench.report.write import write_report

    chosen = {t: None if s == NO_SUBSET else s for t, s in _chosen_subsets(args, False).items()}
    subsets = {t.name: chosen[t.name] for t in table2_tasks()}
    if args.models_file and not args.run:  # the table's labels may be that file's models
        from bench.models.external import load_models_file

        load_models_file(args.models_file)
    if args.dry_run and not args.run:
        raise ConfigurationError("--dry-run plans the runs of --run; give both")
    skipped = run_for_table(args, subsets) if args.run else []
    if args.dry_run:
        echo("dry run: nothing was run, no store, folder or table was written")
        return 0
    if skipped and not args.allow_missing:  # a CI job relying on the table must not pass
        echo(
            f"bench: error: {len(skipped)} requested run(s) could not run, no table written "
            f"(--allow-missing writes it without them): {shown('; '.join(skipped))}",
            file=sys.stderr,
        )
        return 1
    table = build_table(
        [Path(existing(d)) for d in args.runs],  # a mistyped folder: an error, not a paper table
        subsets,
        Path(args.data_dir) if args.data_dir else None,
        equigrad_subset=next((chosen[t.name] for t in reference_free_tasks()), None),
        recorded_only=args.recorded_only,
    )
    from bench.report.baselines import command_line

    command = command_line(args.argv) if args.command_line is None else args.command_line
    paths = write_report(table, Path(args.out), command)
    echo(to_markdown(table))
    echo(f"wrote {len(paths)} files under {shown(args.out)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the static site of the results directories."""
    from bench.report.site import build_site

    runs, subsets = [Path(existing(d)) for d in args.runs], None
    chosen = _chosen_subsets(args, table2=True)
    if any(chosen.values()):
        defaults = {t.name: t.default_subset for t in table2_tasks()}
        subsets = {
            n: None if (v := s or defaults[n]) == NO_SUBSET else v for n, s in chosen.items()
        }
    from bench.report.baselines import command_line

    command = args.command_line or command_line(args.argv)
    data_dir = Path(args.data_dir) if args.data_dir else None
    paths = build_site(runs, Path(args.out), subsets, data_dir, command)
    echo(f"wrote {len(paths)} files; open {shown(Path(args.out) / 'index.html')}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bench.run.export import export
    from bench.run.records import open_results

    _check_dataset(args.dataset)
    with open_results(existing(args.out)) as store:
        models = model_labels(store, args.model)
        path = export(store, args.to, model=models, task=args.task, dataset=args.dataset)
    echo(f"wrote {path}")
    return 0
