"""Phonon metrics beyond Table 2, per model, from the phonon records: MAE of ωmin and of the
mean frequency ω_avg, the mean over materials of the band RMSE on the q-mesh (each with its
95 % bootstrap interval), and the dynamical-stability confusion matrix (MDR's rule on the
model's and the DFT force constants) with its accuracy.

They go in ``table2.csv`` and the site, never in Table 2's markdown. Records made before these
values existed leave them NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.metrics import absolute_errors, mean_interval
from bench.tasks import tasks_with_page

#: MAE against DFT of these values (K), beside Table 2: record key -> label
EXTRA_MAE = {"omega_min_K": "ωmin [K]", "omega_avg_K": "ω_avg [K]"}
#: per-material RMSE of the band frequencies against DFT on the q-mesh (K), a model value
BAND_RMSE = "band_rmse_K"
BAND_RMSE_LABEL = "band RMSE [K]"
#: confusion-matrix cells: column suffix -> (model stable, DFT stable)
CONFUSION = {
    "both_stable": (True, True),
    "model_stable_dft_unstable": (True, False),
    "model_unstable_dft_stable": (False, True),
    "both_unstable": (False, False),
}


def stability_confusion(ok: pd.DataFrame) -> dict[str, float]:
    """Counts of :data:`CONFUSION` over the rows with both ``model.stable`` and ``ref.stable``,
    ``n`` (those rows) and ``accuracy`` (the share where model and DFT agree; NaN if none)."""
    if "model.stable" not in ok or "ref.stable" not in ok:
        both = pd.DataFrame(columns=["model.stable", "ref.stable"])
    else:
        both = ok[["model.stable", "ref.stable"]].dropna()
    model = both["model.stable"].astype(bool).to_numpy()
    dft = both["ref.stable"].astype(bool).to_numpy()
    out: dict[str, float] = {
        name: int(np.sum((model == m) & (dft == d))) for name, (m, d) in CONFUSION.items()
    }
    out["n"] = len(both)
    out["accuracy"] = float(np.mean(model == dft)) if len(both) else np.nan
    return out


def _mean_with_interval(values: pd.Series, name: str, stat: str) -> dict[str, float]:
    data = values.to_numpy(dtype=float)
    data = data[np.isfinite(data)]
    lo, hi = mean_interval(data)
    mean = float(data.mean()) if len(data) else np.nan
    return {f"{name}.{stat}": mean, f"{name}.lo": lo, f"{name}.hi": hi, f"{name}.n": len(data)}


def model_extras(ok: pd.DataFrame) -> dict[str, float]:
    """The extra metrics of one model's ok phonon records (columns of :func:`phonon_extras`)."""
    row: dict[str, float] = {}
    for prop in EXTRA_MAE:
        row.update(_mean_with_interval(absolute_errors(ok, prop), prop, "mae"))
    band = ok[f"model.{BAND_RMSE}"] if f"model.{BAND_RMSE}" in ok else pd.Series(dtype=float)
    row.update(_mean_with_interval(band, BAND_RMSE, "mean"))
    row.update({f"stability.{k}": v for k, v in stability_confusion(ok).items()})
    return row


def phonon_extras(records: pd.DataFrame) -> pd.DataFrame:
    """One row per model of the phonon records: ``<prop>.mae``/``.lo``/``.hi``/``.n`` of
    :data:`EXTRA_MAE`, ``band_rmse_K.mean``/``.lo``/``.hi``/``.n``, ``stability.<cell>`` of
    :data:`CONFUSION`, ``stability.n`` and ``stability.accuracy``."""
    if records.empty or "task" not in records:
        return pd.DataFrame(columns=["model"])
    ok = records[records["task"].isin(tasks_with_page("bands")) & (records["status"] == "ok")]
    rows = [{"model": model, **model_extras(group)} for model, group in ok.groupby("model")]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["model"])


def with_phonon_extras(frame: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (one row per model) with the :func:`phonon_extras` columns (NaN where a
    model has none)."""
    extras = phonon_extras(records)
    if extras.empty:
        return frame
    return frame.merge(extras, on="model", how="left")
