"""Write the report files: table2.md/.csv, outliers, parity plots, provenance, the equigrad
and other tasks' tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.models.registry import label_spec
from bench.protocols import effective_settings
from bench.report.equigrad_report import write_equigrad
from bench.report.figures import parity_plots
from bench.report.headline import headline_markdown
from bench.report.markdown import TITLE, frame_markdown, intro, to_markdown
from bench.report.metrics import mae_display, mae_table, with_basis
from bench.report.paired import table_paired
from bench.report.table import COLUMNS, Table, phonon_basis
from bench.run.atomic import atomic_path, write_text
from bench.tasks import TASKS


def task_table(table: Table, task: str) -> pd.DataFrame:
    """MAE [95 % interval] per (model, data set) of a task beside Table 2 (e.g. lattice)."""
    records = table.other.get(task, pd.DataFrame())
    if records.empty:
        return pd.DataFrame()
    properties = TASKS[task].properties
    summary = mae_table(records, properties)
    protocols = {
        d: TASKS[task].protocols and settings_protocol(task, d, records)
        for d in summary["settings_digest"]
    }
    return mae_display(summary, properties, protocols)


def settings_protocol(task: str, digest: str, records: pd.DataFrame) -> str:
    """The protocol name of the default settings behind ``digest`` in ``records``."""
    row = records[records["settings_digest"] == digest].iloc[0]
    return effective_settings(label_spec(row["model"]), task, row["dataset"]).protocol


def outliers(table: Table, top: int = 10) -> pd.DataFrame:
    """The ``top`` largest absolute errors per model and property."""
    rows = []
    ok = table.records[table.records["status"] == "ok"] if len(table.records) else table.records
    for prop in COLUMNS:
        cols = [f"model.{prop}", f"ref.{prop}"]
        if not len(ok) or not set(cols) <= set(ok.columns):
            continue
        part = ok[["model", "material_id", *cols]].dropna().copy()
        part["abs_error"] = (part[cols[0]].astype(float) - part[cols[1]].astype(float)).abs()
        for _, group in part.groupby("model"):
            for _, r in group.nlargest(top, "abs_error").iterrows():
                rows.append(
                    {
                        "model": r["model"],
                        "property": prop,
                        "material_id": r["material_id"],
                        "model_value": r[cols[0]],
                        "dft_value": r[cols[1]],
                        "abs_error": r["abs_error"],
                    }
                )
    return pd.DataFrame(rows)


def write_task_tables(table: Table, out: Path, command: str) -> list[Path]:
    """``<task>.md`` and ``.csv`` for each task beside Table 2 that has records."""
    paths = []
    for task in table.other:
        frame = task_table(table, task)
        if frame.empty:
            continue
        labels = ", ".join(f"`{p.name}` = {p.label}" for p in TASKS[task].props)
        md = out / f"{task}.md"
        write_text(
            md,
            f"# {task}\n\nMade by: `{command}`\n\nMAE against DFT [95 % bootstrap interval "
            f"over materials] per model and data set, default settings. {labels}.\n\n"
            + frame_markdown(frame),
        )
        csv_path = out / f"{task}.csv"
        with atomic_path(csv_path) as tmp:
            mae_table(table.other[task], TASKS[task].properties).to_csv(tmp, index=False)
        paths += [md, csv_path]
    return paths


def write_report(table: Table, out: Path, command: str) -> list[Path]:
    """results/table2.md, table2.csv, paired.csv (:mod:`bench.report.paired`), outliers.csv,
    parity/*.png; equigrad.md, .csv and
    equigrad_hist.png when there are equigrad records."""
    out.mkdir(parents=True, exist_ok=True)
    md = out / "table2.md"
    write_text(md, f"# {TITLE}\n\nMade by: `{command}`\n\n{intro(table)}\n" + to_markdown(table))
    head = out / "headline.md"
    write_text(head, headline_markdown(table, command))
    csv_path = out / "table2.csv"
    basis = phonon_basis(table)
    with atomic_path(csv_path) as tmp:
        table.frame.rename(columns=lambda c: with_basis(c, basis)).to_csv(tmp, index=False)
    paired_path = out / "paired.csv"
    with atomic_path(paired_path) as tmp:
        table_paired(table).to_csv(tmp, index=False)
    outlier_path = out / "outliers.csv"
    with atomic_path(outlier_path) as tmp:
        outliers(table).to_csv(tmp, index=False)
    plots = parity_plots(table, out / "parity")
    write_text(out / "table2.provenance.json", json.dumps(table.manifests, indent=1, default=str))
    others = write_task_tables(table, out, command)
    return [
        md,
        head,
        csv_path,
        paired_path,
        outlier_path,
        *plots,
        *write_equigrad(table, out, command),
        *others,
    ]
