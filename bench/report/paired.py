"""Paired comparisons: for two models on the same set and quantity, the MAE difference on the
materials both have ok, with a paired bootstrap interval (the same resampled materials for
both models), and whether the difference is real at 95 %.

Both models ran on the same materials, so comparing their two MAE intervals (overlap or not)
is wrong: the per-material errors are correlated and the difference is far tighter. The
interval here resamples materials, each carrying both models' errors: the bootstrap of the
mean per-material difference |e_a| − |e_b| (:func:`bench.report.metrics.mean_interval`, the
same resamples and seed as every MAE interval).
"""

from __future__ import annotations

import io
from itertools import combinations

import numpy as np
import pandas as pd

from bench.report.metrics import CONFIDENCE, absolute_errors, format_mae, mean_interval
from bench.report.table import COLUMNS, Table, column_label, phonon_basis, shown_columns

PAIRED_COLUMNS = (
    "set",
    "task",
    "property",
    "model_a",
    "model_b",
    "n",
    "mae_a",
    "mae_b",
    "delta",
    "delta_lo",
    "delta_hi",
    "verdict",
)
#: what a paired interval says about model a against model b
BETTER, WORSE, SAME = "better", "worse", "not distinguishable"


def verdict(lo: float, hi: float) -> str:
    """``better`` (a's MAE lower: the whole interval of a − b below 0), ``worse`` (above 0),
    else ``not distinguishable`` (also for an interval that could not be made)."""
    if np.isfinite(hi) and hi < 0:
        return BETTER
    if np.isfinite(lo) and lo > 0:
        return WORSE
    return SAME


def paired_difference(errors_a: pd.Series, errors_b: pd.Series) -> dict[str, float]:
    """Δ MAE = MAE_a − MAE_b over the materials (index) both have, its paired 95 % bootstrap
    interval and n: ``n``, ``mae_a``, ``mae_b``, ``delta``, ``delta_lo``, ``delta_hi``."""
    common = errors_a.index.intersection(errors_b.index)
    a = errors_a.loc[common].to_numpy(dtype=float)
    b = errors_b.loc[common].to_numpy(dtype=float)
    diff = a - b
    lo, hi = mean_interval(diff)
    mean = float(diff.mean()) if len(diff) else np.nan
    return {
        "n": len(common),
        "mae_a": float(a.mean()) if len(a) else np.nan,
        "mae_b": float(b.mean()) if len(b) else np.nan,
        "delta": mean,
        "delta_lo": lo,
        "delta_hi": hi,
    }


def model_errors(records: pd.DataFrame, prop: str) -> dict[str, pd.Series]:
    """Model -> its absolute errors of ``prop`` on ok records, indexed by material id."""
    out = {}
    if records.empty or "status" not in records:
        return out
    ok = records[records["status"] == "ok"]
    for model, group in ok.groupby("model", sort=False):
        err = absolute_errors(group, prop)
        if len(err):
            out[str(model)] = pd.Series(
                err.to_numpy(), index=group.loc[err.index, "material_id"].to_numpy()
            )
    return out


def paired_table(
    records: pd.DataFrame, properties: dict[str, tuple[str, str]], models: list[str]
) -> pd.DataFrame:
    """One row per two models (in ``models``' order) with errors on the same set, task and
    property: the :data:`PAIRED_COLUMNS`. ``properties``: property -> (task, set) of the table;
    ``records``: the ones that entered the table's numbers."""
    rows = []
    for prop, (task, subset) in properties.items():
        part = records[records["task"] == task] if len(records) else records
        errors = model_errors(part, prop)
        ordered = [m for m in models if m in errors]
        for a, b in combinations(ordered, 2):
            diff = paired_difference(errors[a], errors[b])
            if diff["n"] == 0:
                continue
            row = {"set": subset, "task": task, "property": prop, "model_a": a, "model_b": b}
            row.update(diff, verdict=verdict(diff["delta_lo"], diff["delta_hi"]))
            rows.append(row)
    return pd.DataFrame(rows, columns=list(PAIRED_COLUMNS))


def matrix(paired: pd.DataFrame, prop: str) -> tuple[list[str], dict[tuple[str, str], dict]]:
    """The models of ``prop``'s comparisons and, per (row model, column model), the
    comparison seen from the row: its ``verdict``, ``delta`` and interval (row − column)."""
    part = paired[paired["property"] == prop]
    models: list[str] = []
    cells: dict[tuple[str, str], dict] = {}
    for _, r in part.iterrows():
        for m in (r["model_a"], r["model_b"]):
            if m not in models:
                models.append(m)
        forward = {k: r[k] for k in ("n", "delta", "delta_lo", "delta_hi", "verdict")}
        cells[(r["model_a"], r["model_b"])] = forward
        cells[(r["model_b"], r["model_a"])] = {
            **forward,
            "delta": -r["delta"],
            "delta_lo": -r["delta_hi"],
            "delta_hi": -r["delta_lo"],
            "verdict": verdict(-r["delta_hi"], -r["delta_lo"]),
        }
    return models, cells


def paired_markdown(paired: pd.DataFrame, labels: dict[str, str]) -> str:
    """One line per comparison: ``K [GPa] on elastic-full: 7net-0 − chgnet-0.3.0 = −7.8
    [−9.0, −6.6] (n = 3938): 7net-0 better``; '' when there is none."""
    if paired.empty:
        return ""
    out = io.StringIO()
    out.write(
        "\nPaired comparisons: Δ MAE = MAE of the first model − the second's on the materials "
        f"both have ok [{CONFIDENCE * 100:.0f} % paired bootstrap interval: the same resampled "
        "materials for both], n materials; 'better' when the whole interval is below 0.\n\n"
    )
    for _, r in paired.iterrows():
        delta = format_mae(r["delta"], r["delta_lo"], r["delta_hi"])
        if r["verdict"] == SAME:
            said = "not distinguishable"
        else:
            said = f"{r['model_a'] if r['verdict'] == BETTER else r['model_b']} better"
        out.write(
            f"- {labels.get(r['property'], r['property'])} on `{r['set']}`: {r['model_a']} − "
            f"{r['model_b']} = {delta} (n = {r['n']}): {said}\n"
        )
    return out.getvalue()


def table_paired(table: Table) -> pd.DataFrame:
    """:func:`paired_table` of a Table 2: every two of its models on each shown property."""
    props = {p: (COLUMNS[p][0], table.subsets[COLUMNS[p][0]]) for p in shown_columns(table)}
    models = list(table.frame["model"]) if "model" in table.frame else []
    return paired_table(table.records, props, models)


def table_labels(table: Table) -> dict[str, str]:
    """Property -> its short label with unit and basis (``Cv [J/K per mol given cells]``)."""
    return {p: column_label(p, phonon_basis(table)) for p in COLUMNS}
