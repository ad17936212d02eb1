"""Mean absolute errors over records: successes only, failures counted beside them."""

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
