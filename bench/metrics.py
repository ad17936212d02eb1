"""Summaries over records: mean absolute errors against a reference, or the distribution of a
value that has none (equigrad); successes only, failures counted beside them."""

from __future__ import annotations

import numpy as np
import pandas as pd

GROUP = ["model", "task", "dataset", "settings_digest"]


def mae_table(records: pd.DataFrame, properties: tuple[str, ...]) -> pd.DataFrame:
    """One row per (model, task, dataset, settings digest).

    Columns: ``n`` (materials recorded), ``n_ok``, ``n_failed`` (all non-ok statuses),
    ``n_not_converged``, then ``<property>`` = MAE over ok records where both the model and the
    reference value are finite, and ``n_<property>`` = how many entered that MAE.
    """
    rows = []
    if records.empty:
        return pd.DataFrame(columns=[*GROUP, "n", "n_ok", "n_failed"])
    for key, group in records.groupby(GROUP, sort=True):
        row = dict(zip(GROUP, key, strict=True))
        ok = group[group["status"] == "ok"]
        row.update(
            n=len(group),
            n_ok=len(ok),
            n_failed=int((group["status"] != "ok").sum()),
            n_not_converged=int((group["status"] == "not_converged").sum()),
        )
        for prop in properties:
            model_col, ref_col = f"model.{prop}", f"ref.{prop}"
            if model_col not in ok or ref_col not in ok:
                row[prop], row[f"n_{prop}"] = np.nan, 0
                continue
            err = (ok[model_col].astype(float) - ok[ref_col].astype(float)).abs().dropna()
            row[prop] = float(err.mean()) if len(err) else np.nan
            row[f"n_{prop}"] = len(err)
        rows.append(row)
    return pd.DataFrame(rows)


def distribution_table(
    records: pd.DataFrame, properties: tuple[str, ...], quantile: float = 0.95
) -> pd.DataFrame:
    """One row per (model, task, dataset, settings digest), for values without a reference.

    Columns: the counts of :func:`mae_table`, then ``<property>.median``, ``<property>.p95``
    (the ``quantile``), ``<property>.max`` over ok records with a finite value, and
    ``n_<property>``.
    """
    rows = []
    if records.empty:
        return pd.DataFrame(columns=[*GROUP, "n", "n_ok", "n_failed"])
    label = f"p{round(quantile * 100):d}"
    for key, group in records.groupby(GROUP, sort=True):
        row = dict(zip(GROUP, key, strict=True))
        ok = group[group["status"] == "ok"]
        row.update(
            n=len(group),
            n_ok=len(ok),
            n_failed=int((group["status"] != "ok").sum()),
            n_not_converged=int((group["status"] == "not_converged").sum()),
        )
        for prop in properties:
            column = f"model.{prop}"
            data = ok[column].astype(float) if column in ok else pd.Series(dtype=float)
            data = data[np.isfinite(data)]
            row[f"{prop}.median"] = float(data.median()) if len(data) else np.nan
            row[f"{prop}.{label}"] = float(data.quantile(quantile)) if len(data) else np.nan
            row[f"{prop}.max"] = float(data.max()) if len(data) else np.nan
            row[f"n_{prop}"] = len(data)
        rows.append(row)
    return pd.DataFrame(rows)


def summary_table(records: pd.DataFrame, properties: tuple[str, ...], has_reference: bool):
    """:func:`mae_table` for tasks with a reference, else :func:`distribution_table`."""
    if has_reference:
        return mae_table(records, properties)
    return distribution_table(records, properties)
