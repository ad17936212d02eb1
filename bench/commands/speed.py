"""``bench speed``: forward time vs atoms, pipeline time split, batching, MatCalc's loop,
the client's memory; rows appended to ``<out>/<what>.csv`` with machine and command."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from bench.commands.output import print_frame, subsets_for
from bench.commands.speed_options import OPTIONS
from bench.errors import ConfigurationError
from bench.report.baselines import command_line
from bench.speed.forward import append_rows, call_in_model_env, summary, write_forward
from bench.terminal import echo

#: ``bench speed WHAT`` -> (function run in the model's environment, csv name)
TIMERS = {
    "pipeline": ("bench.speed.throughput:time_pipeline", "pipeline"),
    "batch": ("bench.speed.throughput:time_batching", "batching"),
    "matcalc": ("bench.speed.matcalc_loop:time_matcalc", "matcalc"),
}


#: ``bench speed ACTION``: its one-line help and the option groups it takes (one sub-parser each)
ACTIONS = {
    "forward": ("model call time vs atoms (rattled NaCl supercells)", ("model", "sizes")),
    "forces": (
        "time and peak memory of one force call per size, the adapter's force path vs its ASE "
        "calculator, each in a fresh process",
        ("model", "sizes"),
    ),
    "pipeline": (
        "a task on a subset in this process: time inside the model vs the harness",
        ("model", "task", "data", "batch", "protocol"),
    ),
    "batch": ("displaced supercells batched vs one by one (phonons)", ("model", "data")),
    "matcalc": (
        "matcalc's own calculator loop, same model and materials, called as the protocol's "
        "source calls it",
        ("model", "task", "data", "protocol"),
    ),
    "client-memory": (
        "the client's RSS every 100 records of a real run into a scratch store",
        ("task", "data", "pool"),
    ),
    "sharing": (
        "concurrent runs with the default threads, then with --threads cores/runs",
        ("task", "data", "runs"),
    ),
    "gpu": (
        "on this machine's GPU: materials/h on mdr-smoke and elastic-smoke per engine, model "
        "share, peak GPU memory, GPU name, torch and CUDA versions (gpu.csv and a README "
        "section; exit 2 without a GPU)",
        ("model", "gpu"),
    ),
    "engines": (
        "the torch-sim engine against the ase engine on a subset, read from records (no model "
        "runs): per-material differences, MAE of each, wall time of each",
        ("task", "engines"),
    ),
    "peaks": (
        "each phonon material's peak memory vs supercell atoms, read from --records (no model "
        "runs), and the envelope that decides which supercells run alone",
        ("records",),
    ),
}


def add_parser(sub: Any) -> None:
    """The ``speed`` subcommand: one sub-parser per action, each with only its options."""
    p = sub.add_parser(
        "speed",
        help="throughput: " + "; ".join(ACTIONS),
        description="Speed and memory measurements; rows are appended to <out>/<what>.csv with "
        "machine and command. bench speed ACTION --help lists an action's options.",
    )
    actions = p.add_subparsers(dest="what", required=True, metavar="ACTION")
    for name, (text, groups) in ACTIONS.items():
        a = actions.add_parser(name, help=text, description=text)
        a.add_argument("--model", action="append", required=True, help="repeatable")
        a.add_argument("--out", default="results/speed", help="folder of the csv (and plot)")
        for group in groups:
            OPTIONS[group](a, name)
        a.set_defaults(func=cmd_speed)


def cmd_speed(args: argparse.Namespace) -> int:
    """Dispatch to the measurement ``args.what`` names."""
    argv = command_line(args.argv)
    if args.what == "forward":
        return _forward(args, Path(args.out), argv)
    if args.what == "forces":
        return _forces(args, Path(args.out), argv)
    if args.what == "client-memory":
        return _client_memory(args, Path(args.out), argv)
    if args.what == "sharing":
        return _sharing(args, Path(args.out), argv)
    if args.what == "peaks":
        return _peaks(args, Path(args.out), argv)
    if args.what == "gpu":
        return _gpu(args, Path(args.out), argv)
    if args.what == "engines":
        return _engines(args, Path(args.out), argv)
    return _timed(args, Path(args.out), argv)


def _forward(args: argparse.Namespace, out: Path, argv: str) -> int:
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
    echo(summary(rows))
    paths = write_forward(rows, out, argv)
    echo("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _forces(args: argparse.Namespace, out: Path, argv: str) -> int:
    from bench.speed.forces import time_forces

    rows = []
    for model in args.model:
        rows += time_forces(model, tuple(args.sizes), args.threads, args.checkpoint, args.dtype)
    append_rows(rows, out / "forces.csv", argv)
    cols = ["model", "n_atoms", "path", "seconds", "peak_MB", "added_MB"]
    print_frame(pd.DataFrame(rows)[cols].round(2))
    echo(f"wrote {out / 'forces.csv'}")
    return 0


def _task_subset(args: argparse.Namespace) -> tuple[str, str]:
    task = getattr(args, "task", None) or "phonons"
    return task, args.subset or subsets_for(task, None)[0][1]


def _client_memory(args: argparse.Namespace, out: Path, argv: str) -> int:
    from bench.speed.memory import client_memory

    task, subset = _task_subset(args)
    rows = []
    for model in args.model:
        with tempfile.TemporaryDirectory() as scratch:
            rows += client_memory(
                model, task, subset, scratch, workers=args.workers, data_dir=args.data_dir
            )
    append_rows(rows, out / "client_memory.csv", argv)
    print_frame(pd.DataFrame(rows)[["model", "records", "client_rss_MB"]].round(1))
    echo(f"wrote {out / 'client_memory.csv'}")
    return 0


def _sharing(args: argparse.Namespace, out: Path, argv: str) -> int:
    from bench.speed.sharing import time_sharing

    task, subset = _task_subset(args)
    materials = tuple(m for m in (args.materials or "").split(",") if m) or None
    rows = []
    for model in args.model:
        rows += time_sharing(model, task, subset, args.runs, args.limit, materials, args.data_dir)
    append_rows(rows, out / "sharing.csv", argv)
    cols = ["model", "runs", "threads_per_run", "n_materials", "wall_s", "materials_per_h"]
    print_frame(pd.DataFrame(rows)[cols].round(1))
    echo(f"wrote {out / 'sharing.csv'}")
    return 0


def _peaks(args: argparse.Namespace, out: Path, argv: str) -> int:
    from bench.commands.output import existing, model_labels
    from bench.run.records import open_results
    from bench.run.schedule import total_memory_mb
    from bench.speed.peaks import made_within, measure

    rows = []
    for model in args.model:
        with open_results(existing(args.records)) as store:
            records = store.records(model=model_labels(store, model), task="phonons")
        records = records[made_within(records["created_at"], args.since, args.until)]
        try:
            table, fit = measure(records, total_memory_mb())
        except ValueError as err:
            raise ConfigurationError(f"{model}: {err} in {args.records}") from err
        echo(f"{model}: " + ", ".join(f"{k} {v}" for k, v in fit.items()))
        print_frame(table.round(1))
        rows += [{"model": model, **row, **fit} for row in table.to_dict("records")]
    append_rows(rows, out / "peaks.csv", argv)
    echo(f"wrote {out / 'peaks.csv'}")
    return 0


def _gpu(args: argparse.Namespace, out: Path, argv: str) -> int:
    from bench.speed.gpu import COLUMNS, measure_and_write

    options = {"checkpoint": args.checkpoint, "dtype": args.dtype, "threads": args.threads}
    options |= {"limit": args.limit, "data_dir": args.data_dir}
    rows = measure_and_write(args.model, tuple(args.engine or ("ase",)), out, argv, **options)
    print_frame(pd.DataFrame(rows)[list(COLUMNS)].round(2))
    echo(f"wrote {out / 'gpu.csv'}, {out / 'README.md'}")
    return 0


def _engines(args: argparse.Namespace, out: Path, argv: str) -> int:
    from bench.commands.output import existing
    from bench.speed.engines import write_comparison

    task, subset = _task_subset(args)
    ase, torch_sim = Path(existing(args.ase)), Path(existing(args.torch_sim))
    rows, paths = write_comparison(args.model, task, subset, ase, torch_sim, out)
    append_rows(rows, out / "engines.csv", argv)
    cols = ["model", "property", "n_both_ok", "mae_ase", "mae_torch_sim", "mean_abs_diff"]
    print_frame(pd.DataFrame(rows)[[*cols, "max_abs_diff", "wall_s_ase", "wall_s_torch_sim"]])
    echo("wrote " + ", ".join(str(p) for p in [*paths, out / "engines.csv"]))
    return 0


def _timed(args: argparse.Namespace, out: Path, argv: str) -> int:
    """pipeline, batch or matcalc: rows per model, appended to their csv, and the plot."""
    from bench.speed.plots import pipeline_summary, plot_pipeline

    task, subset = _task_subset(args)
    function, name = TIMERS[args.what]
    kwargs: dict[str, Any] = {"task": task, "subset": subset, "limit": args.limit}
    if args.materials:
        kwargs["materials"] = tuple(m.strip() for m in args.materials.split(",") if m.strip())
    kwargs |= {"data_dir": args.data_dir, "checkpoint": args.checkpoint, "dtype": args.dtype}
    kwargs["threads"] = args.threads
    kwargs["protocol"] = getattr(args, "protocol", None)
    if args.what == "pipeline":
        kwargs |= {"batch": not args.no_batch, "relax_parts": args.relax_parts}
    rows = [row for model in args.model for row in call_in_model_env(model, function, **kwargs)]
    frame = append_rows(rows, out / f"{name}.csv", argv)
    latest = pd.DataFrame(rows)
    if args.what == "batch":
        cols = ["model", "material_id", "n_supercells", "n_atoms", "batched_s", "one_by_one_s"]
        print_frame(latest[[*cols, "speedup", "max_force_diff_eV_per_A"]].round(4))
    elif args.what == "pipeline":
        print_frame(pipeline_summary(latest).round(2))
    else:
        print_frame(latest[["model", "material_id", "status", "wall_s", "model_s"]].round(2))
    frames = {}
    for key in ("pipeline", "batching"):
        path = out / f"{key}.csv"
        frames[key] = frame if key == name else (pd.read_csv(path) if path.exists() else None)
    png = plot_pipeline(frames["pipeline"], frames["batching"], out / "pipeline.png")
    echo(f"wrote {out / f'{name}.csv'}, {png}")
    return 0
