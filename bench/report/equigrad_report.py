"""The report of the tasks without a reference (equigrad): per model, the distribution of each
property (median and 95th percentile) as markdown and CSV, and a histogram of the first."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from bench.report.figures import distribution_histogram
from bench.report.metrics import distribution_table
from bench.report.table import Table
from bench.run.atomic import atomic_path, write_text
from bench.run.schema import details_of
from bench.tasks import Task, reference_free_tasks


def columns_of(task: Task) -> dict[str, str]:
    """Property -> column label, from the task's registry entry."""
    return {p.name: p.label for p in task.props}


def distribution_frame(table: Table, task: Task) -> pd.DataFrame:
    """One row per model: counts, method, and median / p95 of each of the task's properties."""
    records = table.equigrad
    records = records[records["task"] == task.name] if not records.empty else records
    if records.empty:
        return pd.DataFrame()
    columns = columns_of(task)
    summary = distribution_table(records, tuple(columns))
    methods = {}
    for model, group in records[records["status"] == "ok"].groupby("model"):
        found = {details_of(d).get("method") for d in group["details_json"]}
        methods[model] = "+".join(sorted(m for m in found if m))
    summary["method"] = summary["model"].map(methods).fillna("")
    keep = ["model", "dataset", "settings_digest", "n", "n_ok", "n_failed", "method"]
    for prop in columns:
        keep += [f"{prop}.median", f"{prop}.p95"]
    return summary[keep]


def distribution_markdown(table: Table, task: Task) -> str:
    """Markdown of :func:`distribution_frame`: `median (p95)` per cell, then the task's note."""
    frame, columns = distribution_frame(table, task), columns_of(task)
    out = io.StringIO()
    out.write("| model | " + " | ".join(columns.values()) + " | n (failed) | method |\n")
    out.write("|---" * (len(columns) + 3) + "|\n")
    for _, row in frame.iterrows():
        cells = [
            f"{row[f'{p}.median']:.3g} ({row[f'{p}.p95']:.3g})"
            if pd.notna(row[f"{p}.median"])
            else "–"
            for p in columns
        ]
        count = f"{int(row['n_ok'])} ({int(row['n_failed'])})"
        out.write(f"| {row['model']} | " + " | ".join(cells) + f" | {count} | {row['method']} |\n")
    out.write(
        "\nCells: median (95th percentile) over the materials of "
        f"`{table.equigrad_subset}`. {task.distribution_note} Settings digests: "
        + ", ".join(sorted(set(frame["settings_digest"])))
        + ".\n"
    )
    return out.getvalue()


def write_equigrad(table: Table, out: Path, command: str) -> list[Path]:
    """<out>/<task>.md, <task>.csv and <task>_hist.png for each task without a reference
    that has records (equigrad.md, ...)."""
    written: list[Path] = []
    for task in reference_free_tasks():
        frame = distribution_frame(table, task)
        if frame.empty:
            continue
        out.mkdir(parents=True, exist_ok=True)
        md = out / f"{task.name}.md"
        write_text(
            md,
            f"# {task.summary}\n\nMade by: `{command}`\n\n" + distribution_markdown(table, task),
        )
        csv_path = out / f"{task.name}.csv"
        with atomic_path(csv_path) as tmp:
            frame.to_csv(tmp, index=False)
        first = task.props[0]
        hist = distribution_histogram(table, task.name, first, out / f"{task.name}_hist.png")
        written += [md, csv_path, *([hist] if hist else [])]
    return written
