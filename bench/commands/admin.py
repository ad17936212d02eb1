"""``bench models``, ``datasets``, ``env``, ``baseline``: what can run here, where the data
is, the family environments, the MAE regression baselines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from bench.commands.output import print_frame, subsets_for
from bench.errors import ConfigurationError
from bench.models.families import own_env_families
from bench.tasks import TASKS
from bench.terminal import echo, shown


def add_parser(sub: Any) -> None:
    """The ``models``, ``datasets``, ``env`` and ``baseline`` subcommands."""
    p = sub.add_parser(
        "models",
        help="list models (catalogue, models file, plug-ins), where their weights are, and "
        "whether they can run here",
    )
    p.add_argument("--models-file", metavar="FILE", help="also list the models of this YAML")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("datasets", help="list data sets, subsets and where the data is")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_datasets)

    own = ", ".join(own_env_families())
    p = sub.add_parser(
        "env", help=f"environments: a family's ({own}), or one of your own for a models file"
    )
    p.add_argument("action", choices=["list", "create"])
    p.add_argument(
        "name", nargs="?", help=f"environment to create ({own}, or any name with --python)"
    )
    p.add_argument(
        "--python",
        metavar="PATH",
        help="create: an environment of your own made by this interpreter, with bench in it "
        "(give its bin/python as python: in a models file)",
    )
    p.add_argument(
        "--packages", nargs="+", default=[], metavar="PKG", help="create: also install these"
    )
    p.set_defaults(func=cmd_env)

    p = sub.add_parser("baseline", help="MAE regression baselines: make or check")
    p.add_argument("action", choices=["make", "check"])
    p.add_argument("--model", help="make: model key (check: filter baseline files)")
    p.add_argument("--task", choices=[t for t in TASKS if TASKS[t].has_reference], default=None)
    p.add_argument("--subset", help="make: subset (default per task)")
    p.add_argument("--workers", type=int, nargs="+", help="make: one repeat per entry (1 2)")
    p.add_argument("--dir", default="results/baselines", help="baseline directory")
    p.add_argument("--data-dir")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="check: break a setting on purpose"
    )
    p.set_defaults(func=cmd_baseline)


def cmd_models(args: argparse.Namespace) -> int:
    from bench.models import model_rows
    from bench.models.external import load_models_file

    if args.models_file:
        load_models_file(args.models_file)
    rows = model_rows()
    table = pd.DataFrame(rows)[["key", "source", "family", "runs here"]]
    table["family"] = [row["family"].split()[0] for row in rows]  # "import", path in details
    table["source"] = [_source_word(row["source"]) for row in rows]  # the file in details
    table["weights"] = [row["weights"] for row in rows]  # a word; details below
    print_frame(table)
    echo("\ndetails (aliases, environment, where the weights are or why a model cannot run):")
    for row in rows:
        row = {k: shown(v) if v else v for k, v in row.items()}
        aliases = f" ({row['aliases']})" if row["aliases"] else ""
        paper = f"; Table 2 row {row['table2']}" if row["table2"] else ""
        paper += f"; trained on {row['training']}" if row.get("training") else ""
        family = f"{row['source']}, {row['family']}; " if " " in row["family"] else ""
        line = f"env {row['env']}{paper}; {row['weights / why not']}"
        echo(f"  {row['key']}{aliases}: {family}{line}")
    return 0


def _source_word(source: str) -> str:
    """``models file``, ``pyproject.toml``, ``plug-in <package>`` or ``catalogue``: a models
    file's path goes to the details line."""
    if source.startswith("models file"):
        return "models file"
    return "pyproject.toml" if source.endswith("[tool.bench.models]") else source


def cmd_datasets(args: argparse.Namespace) -> int:
    from bench.datasets import list_datasets, subsets
    from bench.datasets.locate import find_data_dir

    data_dir = find_data_dir(Path(args.data_dir) if args.data_dir else None)
    echo(f"data directory: {data_dir or 'none found (set --data-dir or $BENCH_DATA)'}")
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
    print_frame(pd.DataFrame(rows))
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from bench.models import list_models
    from bench.models.envs import create_env, env_state

    families = {s.env: (s.family, s.import_probe) for s in list_models() if s.env != "main"}
    if args.action == "list":
        for name, (_, package) in sorted(families.items()):
            echo(env_state(name, package))
        return 0
    if (args.python or args.packages) and args.name not in own_env_families():
        from bench.models.ownenv import create_own_env

        if not args.name:
            raise ConfigurationError("bench env create NAME --python PATH [--packages PKG ...]")
        python = create_own_env(args.name, args.python or sys.executable, args.packages)
        echo(f"ready: {python} (in a models file: python: {python})")
        return 0
    if not args.name or args.name not in own_env_families():
        names = ", ".join(own_env_families())
        raise ConfigurationError(f"bench env create NAME, NAME one of: {names}")
    python = create_env(args.name, families[args.name][0], args.python or sys.executable)
    if args.packages:
        from bench.models.envs import call

        call([str(python), "-m", "pip", "install", "--quiet", *args.packages], "installing")
    echo(f"ready: {python}")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from bench.report.baselines import baseline_files, check_baseline, command_line, make_baseline

    if args.action == "make":
        if not args.model:
            raise ConfigurationError("bench baseline make needs --model")
        task = args.task or "phonons"
        subset = args.subset or subsets_for(task, None)[0][1]
        workers = tuple(args.workers or (1, 2))
        argv = ["baseline", "make", "--model", args.model, "--task", task, "--subset", subset]
        argv += ["--workers", *map(str, workers)]
        path = make_baseline(
            args.model, task, subset, workers, args.data_dir, Path(args.dir), command_line(argv)
        )
        echo(f"wrote {path}")
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
        echo(result.report())
        failed += not result.ok
    return 1 if failed else 0


def _resolved_key(name: str) -> str:
    from bench.models import resolve

    return resolve(name).key
