"""What a section of the site's index is: per task its set, subset, size, protocol and each
model's coverage; a warning on picked subsets; what per-mole basis and "unstable" mean."""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup

from bench.datasets import resolve_subset
from bench.report.html import paragraph
from bench.report.markdown import coverage_text, measured_tasks
from bench.report.metrics import BASIS_TEXT, PER_MOLE
from bench.report.table import (
    SET_NAMES,
    Table,
    any_flagged,
    paper_measured,
    phonon_basis,
    shown_columns,
    subset_kind,
)
from bench.tasks import per_mole_tasks

KIND_TEXT = {
    "full": "all",
    "random": "a seeded random sample (its MAE estimates the whole set's)",
    "picked": "a hand-picked subset",
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
        f": {len(ids):,} materials, {KIND_TEXT[subset_kind(subset)]} of "
        f"{SET_NAMES.get(dataset, dataset)} ({paper}); protocol {', '.join(protocols) or '–'}; "
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
