"""What a section of the site's index is: per task its set, subset, size, protocol and each
model's coverage; a warning on picked subsets; what per-mole basis and "unstable" mean."""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup

from bench.datasets import resolve_subset
from bench.report.html import cell, heading, paragraph, table
from bench.report.markdown import coverage_text, measured_tasks, scope_text
from bench.report.metrics import BASIS_TEXT, PER_MOLE, format_mae
from bench.report.paired import BETTER, SAME, WORSE, matrix, table_labels, table_paired
from bench.report.scope import AVAILABLE_SUBSETS, subset_kind
from bench.report.table import (
    SET_NAMES,
    Table,
    any_flagged,
    paper_measured,
    phonon_basis,
    shown_columns,
)
from bench.report.templates import join, render
from bench.tasks import per_mole_tasks

KIND_TEXT = {
    "full": "all of them",
    "random": "a seeded random sample (its MAE estimates the whole set's)",
    "picked": "a hand-picked subset",
    "available": "those available here",
}


def _task_line(table: Table, task: str) -> Markup:
    subset = table.subsets[task]
    dataset, ids = resolve_subset(subset)
    protocols = sorted(
        {str(p) for p in table.frame.get(f"{task}.protocol", pd.Series(dtype=str)).dropna()}
    )
    paper = "the paper measured this set" if paper_measured(table, task) else "not in the paper"
    return paragraph(
        f"{task}: ",
        (subset, "code"),
        f": {len(ids):,} materials of {SET_NAMES.get(dataset, dataset)}, "
        f"{KIND_TEXT[subset_kind(subset)]} ({paper}); protocol {', '.join(protocols) or '–'}; "
        f"coverage: {coverage_text(table, task)}.",
    )


def section_intro(table: Table) -> list[Markup]:
    """Paragraphs above a section's table."""
    tasks = measured_tasks(table)
    parts = [_task_line(table, t) for t in tasks]
    picked = [table.subsets[t] for t in tasks if subset_kind(table.subsets[t]) == "picked"]
    if picked:
        parts.append(
            paragraph(
                (
                    f"{' and '.join(picked)}: hand-picked subset{'s' if len(picked) > 1 else ''}"
                    " (cheap, easy materials). "
                    "Their MAEs are not comparable with full-set values such as the paper's.",
                    "b",
                ),
                cls="warn",
            )
        )
    for task in tasks:
        if subset_kind(table.subsets[task]) == "available":
            text = AVAILABLE_SUBSETS[table.subsets[task]]
            parts.append(paragraph(f"{table.subsets[task]}: {text}.", cls="note"))
    parts.append(paragraph(scope_text(table), cls="note"))
    basis = phonon_basis(table)
    if set(per_mole_tasks()) & set(tasks) and basis in BASIS_TEXT:
        names = [p.split("_")[0] for p in shown_columns(table) if p in PER_MOLE]
        verb = "are" if len(names) > 1 else "is"
        text = f"{', '.join(names)} {verb} per {BASIS_TEXT[basis].replace('mol ', 'mole of ')}."
        if any_flagged(table, "n_unstable"):
            text += (
                " Unstable: the model's phonons have imaginary modes at the supercell's "
                "commensurate points (MDR's rule); phonopy leaves imaginary modes out of Cv, so "
                "such a material's Cv counts its real modes only. It still enters the MAE, as "
                "in the sources' own benchmarks."
            )
        parts.append(paragraph(text, cls="note"))
    return parts


PAIRED_TEXT = (
    "Which model is better, per quantity: each cell compares the row's model with the column's "
    "on the materials both have ok, by the MAE difference (row − column) and its 95 % paired "
    "bootstrap interval (the same resampled materials for both): better or worse when the "
    "whole interval lies below or above 0, else not distinguishable (≈). Hover a cell for the "
    "difference, its interval and n. Overlapping MAE intervals do not mean a tie: the models "
    "ran on the same materials, and the paired difference is far tighter."
)
#: a paired verdict (row against column) -> its short word in a matrix cell
VERDICT_WORDS = {BETTER: "better", WORSE: "worse", SAME: "≈"}


def paired_matrix(paired: pd.DataFrame, prop: str, label: str, table_id: str) -> Markup:
    """One quantity's matrix: row model against column model, better / worse / ≈."""
    models, cells = matrix(paired, prop)
    rows = []
    for a in models:
        row = [cell(a)]
        for b in models:
            c = cells.get((a, b))
            if c is None:
                row.append(cell("·" if a == b else "–"))
                continue
            delta = format_mae(c["delta"], c["delta_lo"], c["delta_hi"])
            tip = f"{a} − {b}: {delta}, n = {c['n']}"
            row.append(cell(VERDICT_WORDS[c["verdict"]], cls=c["verdict"].split()[0], title=tip))
        rows.append(row)
    return join([heading(4, label), table(["", *models], rows, table_id, sortable=False)])


def paired_section(table_: Table, key: str) -> Markup:
    """The section's "which is better" matrices, one per quantity with two or more models."""
    paired = table_paired(table_)
    if paired.empty:
        return join([])
    labels = table_labels(table_)
    matrices = [
        paired_matrix(paired, prop, labels[prop], f"paired-{key}-{prop}")
        for prop in dict.fromkeys(paired["property"])
    ]
    return join(
        [
            heading(3, "Which is better (paired, 95 %)"),
            paragraph(PAIRED_TEXT, cls="note"),
            render("row", parts=matrices),
        ]
    )
