"""What the commands share: plain-text tables, the results directories they read, the
(task, subset) pairs a ``--task``/``--subset`` pair means."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import ConfigurationError
from bench.report.cells import minority_words
from bench.terminal import a_or_an, echo, shown

DEFAULT_OUT = "runs"


def model_labels(store: Any, name: str | None) -> list[str] | None:
    """The record labels of ``store`` a ``--model`` name means: its catalogue key (an alias
    resolves, as in ``bench run``), that key with a checkpoint hash (``key@1a2b3c4d``), or the
    label itself; ``alias@hash`` means ``key@hash``. None (no filter) for None;
    ConfigurationError when nothing matches (a typo)."""
    if name is None:
        return None
    from bench.models.registry import label_spec

    base, at, checkpoint = name.partition("@")
    key = label_spec(base).key
    labels = {group[0] for group in store.groups()}
    if at:
        wanted = {name, f"{key}@{checkpoint}"}
        hits = sorted(x for x in labels if x in wanted)
    else:
        hits = sorted(x for x in labels if x in (name, key) or x.startswith(f"{key}@"))
    if not hits:  # a typo would give an empty table and exit 0
        from bench.errors import ConfigurationError

        here = shown(", ".join(sorted(labels))) or "none"
        raise ConfigurationError(f"--model {name}: no records of it here (models: {here})")
    return hits


#: a table wider than this prints one block per row ("column: value" lines)
WIDTH = 100
#: fewer materials than this: a bootstrap interval is rough, and the output says so
SMALL_N = 30


def print_frame(frame: pd.DataFrame, width: int = WIDTH) -> None:
    """Left-aligned plain-text table (floats to 3 decimals); wider than ``width``: one block
    per row, its first cell as a heading and one indented ``column: value`` line per cell."""
    cells = frame.map(lambda v: f"{v:.3f}" if isinstance(v, float) else shown(v))
    cells.columns = [shown(c) for c in cells.columns]
    widths = {c: max(len(c), *(len(x) for x in cells[c])) for c in cells.columns}
    if sum(widths.values()) + 2 * (len(widths) - 1) > width and len(cells.columns) > 1:
        first, *rest = cells.columns
        pad = max(len(str(c)) for c in rest)
        for _, row in cells.iterrows():
            echo(row[first] if first in ("key", "model") else f"{first}: {row[first]}")
            for c in rest:
                echo(f"  {str(c).ljust(pad)}  {row[c]}")
        return
    echo("  ".join(str(c).ljust(widths[c]) for c in cells.columns).rstrip())
    for _, row in cells.iterrows():
        echo("  ".join(row[c].ljust(widths[c]) for c in cells.columns).rstrip())


def run_words(summary: Any) -> str:
    """What a run did, in words: ``3 ok, 1 failed (ModelError); `--retry-failures` runs
    failed materials again`` (:class:`bench.run.config.RunSummary`)."""
    counts = dict(summary.counts)
    ok = counts.pop("ok", 0)
    failed = sum(counts.values())
    parts = []
    if ok or not failed:
        parts.append(f"{ok} ok")
    if failed:
        kinds = ", ".join(
            f"{n} {shown(k)}" if n != failed else shown(k) for k, n in summary.errors.items()
        )
        parts.append(f"{failed} failed" + (f" ({kinds})" if kinds else ""))
    text = ", ".join(parts) if summary.counts else "nothing to do"
    done = f"{summary.n_skipped} of {summary.n_total} materials already in {shown(summary.store)}"
    text = f"this run: {text}; {done}"
    if summary.n_elsewhere:
        text += f"; {summary.n_elsewhere} left to another run on the same store"
    kept = summary.n_failed_kept
    if failed or kept:
        which = f"{kept} failed earlier and kept; " if kept else ""
        text += f"\n{which}`--retry-failures` runs failed materials again"
    return text


def print_summary(
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

        print_frame(mae_display(table, properties, protocols))
        counts = [int(n) for p in properties if f"n_{p}" in table for n in table[f"n_{p}"]]
        small = [n for n in counts if 1 < n < SMALL_N]
        if small:
            echo(
                f"note: an interval over fewer than {SMALL_N} materials (here n = {min(small)}) "
                "is rough: the bootstrap sees few values"
            )
        for line in minority_notes(table, properties):
            echo(line)
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
    print_frame(pd.DataFrame(rows))


def minority_notes(table: pd.DataFrame, properties: tuple[str, ...]) -> list[str]:
    """``note: mypot:make on mp-...: its MAE is over 2 of 20 materials (18 failed) ...``, per
    row of an MAE table whose numbers are over fewer than half its materials."""
    lines = []
    for _, row in table.iterrows():
        ns = sorted({int(row[f"n_{p}"]) for p in properties if f"n_{p}" in row})
        failed = int(row["n_failed"])
        if not ns or not minority_words(ns[-1], int(row["n"]), failed):
            continue
        lines.append(
            f"note: {shown(row['model'])} on {shown(row['dataset'])}: its MAE is over "
            f"{' or '.join(map(str, ns))} of {int(row['n'])} materials"
            + (f" ({failed} failed)" if failed else "")
            + ", not over the set"
        )
    return lines


def subsets_for(task: str, given: list[str] | None) -> list[tuple[str, str]]:
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
            raise ConfigurationError(
                f"subset {subset} is {a_or_an(subset_task)} subset, not {task}"
            )
        pairs.append((subset_task, subset))
    return pairs


def existing(path: str) -> str:
    """A results directory to read: a store or a records directory; else one clear error."""
    from bench.run.records import is_records_dir
    from bench.run.store import STORE_NAME

    if not (Path(path) / STORE_NAME).exists() and not is_records_dir(path):
        raise ConfigurationError(
            f"no results in {path}: neither {STORE_NAME} nor records part files "
            "(give --out the directory of a run, or a records directory)"
        )
    return path


def protocols_of(store: Any, records: pd.DataFrame) -> dict[str, str]:
    """Settings digest -> protocol name, from the settings the store keeps."""
    out = {}
    for digest in records["settings_digest"].unique() if len(records) else ():
        settings = store.settings_for(digest) or {}
        out[digest] = settings.get("protocol", "–")
    return out
