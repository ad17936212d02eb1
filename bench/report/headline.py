"""The headline of a Table 2: one line per set and model with n and coverage, MAE [interval]
per property, worker-hours and machine (``headline.md`` beside ``table2.md``)."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from bench.report.cells import minority_text, no_mae_text, text_of
from bench.report.markdown import frame_markdown, measured_tasks
from bench.report.metrics import format_mae
from bench.report.table import COLUMNS, Table, column_label, phonon_basis, shown_columns


def _every(table: Table) -> pd.DataFrame:
    """The table's records: those of its numbers and those of its coverages."""
    parts = [f for f in (table.records, table.unscored) if len(f)]
    return pd.concat(parts, ignore_index=True) if parts else table.records


def _machine(table: Table, model: str, task: str) -> str:
    """The most common machine of the runs behind a model's task: ``2-core x86_64 CPU``."""
    every = _every(table)
    runs = every.loc[(every["model"] == model) & (every["task"] == task), "run_id"]
    used = set(runs)
    seen = Counter(
        f"{(m.get('machine') or {}).get('cpu_count', '?')}-core "
        f"{(m.get('machine') or {}).get('cpu', '?')} CPU"
        for m in table.manifests
        if m.get("run_id") in used
    )
    return seen.most_common(1)[0][0] if seen else "–"


def _n_text(row: pd.Series, task: str) -> str:
    """``3942 (3953 of 3953 run, 11 failed)``; ``773 (random prefix, 780 of 3953; 3 failed)``;
    ``– (3 of 3953 run, no MAE)``; ``– (2 of 20 run, 2 failed, no MAE)``."""
    coverage = row[f"{task}.coverage"]
    if text_of(row, f"{task}.no_mae"):
        return f"– ({no_mae_text(row, task)})"
    n = max(int(row[p + ".n"]) for p, (t, _, _) in COLUMNS.items() if t == task)
    failed = int(row.get(f"{task}.n_failed", 0))
    source = text_of(row, f"{task}.mae_from")
    if source.startswith("random prefix"):
        return f"{n} ({source}; {coverage} run, {failed} failed)"
    return f"{n} ({coverage} run, {failed} failed)"


def headline(table: Table) -> pd.DataFrame:
    """Set, model, n (coverage), MAE [95 % interval] per property, worker-hours (sum of the
    records' wall times, those that give no number too) and machine, per task and model with
    records."""
    rows = []
    shown = shown_columns(table)
    for task in measured_tasks(table):
        props = [p for p in shown if COLUMNS[p][0] == task]
        for _, row in table.frame.iterrows():
            coverage = str(row.get(f"{task}.coverage", ""))
            if not coverage or coverage.startswith("0 of"):
                continue
            model = row["model"]
            every = _every(table)
            mine = every[(every["model"] == model) & (every["task"] == task)]
            out = {"set": table.subsets[task], "model": model, "n (coverage)": _n_text(row, task)}
            for p in props:
                label = column_label(p, phonon_basis(table))
                out[label] = format_mae(row[f"{p}.mae"], row[f"{p}.lo"], row[f"{p}.hi"])
                if few := minority_text(row, p):  # an MAE over a minority: said in its cell
                    out[label] += f" ({few})"
            hours = mine["wall_s"].sum() / 3600
            out["worker-hours"] = f"{hours:.2f}" if len(mine) else "–"
            out["machine"] = _machine(table, model, task)
            rows.append(out)
    labels = [column_label(p, phonon_basis(table)) for p in shown]
    order = ["set", "model", "n (coverage)", *labels, "worker-hours", "machine"]
    return pd.DataFrame(rows, columns=order).fillna("–") if rows else pd.DataFrame()


def headline_markdown(table: Table, command: str) -> str:
    """The headline as a markdown table, with the command that made it."""
    frame = headline(table)
    if frame.empty:
        return f"No records. Made by: `{command}`\n"
    return (
        frame_markdown(frame)
        + f"\nMAE [95 % bootstrap interval over materials]; made by `{command}` "
        "(table2.md beside it has the paper's values, counts, protocols and provenance).\n"
    )
