"""The option groups of ``bench speed``'s actions (``bench.commands.speed.ACTIONS``)."""

from __future__ import annotations

import argparse

from bench.speed.matcalc_loop import matcalc_tasks
from bench.tasks import TASKS


def _model_options(a: argparse.ArgumentParser, action: str) -> None:
    a.add_argument("--checkpoint", help="local checkpoint file")
    a.add_argument("--dtype", help="model precision (default: the catalogue's)")
    a.add_argument("--threads", type=int, help="torch threads (default: torch's own)")


def _sizes_options(a: argparse.ArgumentParser, action: str) -> None:
    a.add_argument("--sizes", type=int, nargs="+", default=[8, 64, 216, 512, 1000], help="atoms")
    if action == "forward":
        a.add_argument("--repeats", type=int, default=3, help="timed calls per size")


def _task_options(a: argparse.ArgumentParser, action: str) -> None:
    choices = list(TASKS) if action != "matcalc" else matcalc_tasks()
    a.add_argument("--task", choices=choices, help=f"default: {choices[0]}")


def _data_options(a: argparse.ArgumentParser, action: str) -> None:
    a.add_argument("--subset", help="material subset (default: the task's smoke subset)")
    a.add_argument("--materials", help="comma-separated material ids within the subset")
    a.add_argument("--limit", type=int, help="first N materials of the subset")
    a.add_argument("--data-dir", help="reference data directory (else $BENCH_DATA, user cache)")


def _protocol_options(a: argparse.ArgumentParser, action: str) -> None:
    tasks = matcalc_tasks() if action == "matcalc" else list(TASKS)
    what = "the protocol whose source call matcalc makes" if action == "matcalc" else "protocol"
    a.add_argument(
        "--protocol",
        help=f"{what} (default: the data set's source's; "
        + "; ".join(f"{t}: {', '.join(TASKS[t].protocols)}" for t in tasks)
        + "); recorded in the csv",
    )


def _records_options(a: argparse.ArgumentParser, action: str) -> None:
    a.add_argument("--records", default="results/records", help="records folder or store")
    a.add_argument("--since", help="only records made from this ISO time on")
    a.add_argument("--until", help="only records made up to this ISO time")


def _batch_options(a: argparse.ArgumentParser, action: str) -> None:
    a.add_argument("--no-batch", action="store_true", help="one by one")
    a.add_argument(
        "--relax-parts",
        choices=["bench", "ase"],
        default="bench",
        help="cell filter and symmetry constraint: bench's (default) or ASE's own (same numbers)",
    )


def _gpu_options(a: argparse.ArgumentParser, action: str) -> None:
    a.add_argument("--engine", action="append", help="as bench run's, repeatable (default: ase)")
    a.add_argument("--limit", type=int, help="first N materials of each subset")
    a.add_argument("--data-dir", help="reference data directory (else $BENCH_DATA, user cache)")


#: option group -> the function adding its options to an action's parser
def _engines_options(a: argparse.ArgumentParser, action: str) -> None:
    a.add_argument("--subset", help="material subset (default: the task's smoke subset)")
    a.add_argument("--ase", default="results/records", help="the ase engine's records or store")
    a.add_argument("--torch-sim", required=True, help="the torch-sim engine's records or store")


OPTIONS = {
    "model": _model_options,
    "sizes": _sizes_options,
    "task": _task_options,
    "data": _data_options,
    "batch": _batch_options,
    "protocol": _protocol_options,
    "pool": lambda a, _: a.add_argument("--workers", type=int, default=2, help="pool workers"),
    "runs": lambda a, _: a.add_argument("--runs", type=int, default=2, help="concurrent runs"),
    "records": _records_options,
    "gpu": _gpu_options,
    "engines": _engines_options,
}
