"""Parity plots that survive outliers: robust, equal axis limits and which points lie beyond
them (drawn clipped at the edge and counted), and which are flagged (not PD, unstable).
Shared by the static PNGs (:mod:`bench.report.figures`) and the site (:mod:`site_plots`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: the axes span these percentiles of the DFT and predicted values together (%)
PERCENTILES = (0.5, 99.5)
PAD = 0.05  # of the span, on each side
#: record column of a flag on ok records -> its name in a legend (False = flagged)
FLAG_COLUMNS = {"model.positive_definite": "not PD", "model.stable": "unstable"}


@dataclass(frozen=True)
class Parity:
    """One model's values of one property against DFT, ready to draw."""

    dft: np.ndarray
    model: np.ndarray
    lo: float  # axis limits, the same on both axes
    hi: float
    beyond: np.ndarray  # bool: outside [lo, hi] on either axis (drawn clipped at the edge)
    flagged: np.ndarray  # bool: flagged by the task (not PD, unstable)
    flag_name: str  # "not PD", "unstable" or ""

    def clipped(self) -> tuple[np.ndarray, np.ndarray]:
        """The values with those beyond the limits moved onto the edge."""
        return np.clip(self.dft, self.lo, self.hi), np.clip(self.model, self.lo, self.hi)


def robust_limits(dft: np.ndarray, model: np.ndarray) -> tuple[float, float]:
    """Equal axis limits: the :data:`PERCENTILES` of both sets of values, padded."""
    values = np.concatenate([np.asarray(dft, float), np.asarray(model, float)])
    values = values[np.isfinite(values)]
    if not len(values):
        return 0.0, 1.0
    lo, hi = np.percentile(values, PERCENTILES)
    pad = PAD * (hi - lo or abs(hi) or 1.0)
    return float(lo - pad), float(hi + pad)


def flags_of(rows: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Which rows a task flags (a False ``model.positive_definite`` or ``model.stable``)."""
    for column, name in FLAG_COLUMNS.items():
        if column in rows and rows[column].notna().any():
            values = rows[column].to_numpy()
            return np.array([v is not None and v == v and not bool(v) for v in values]), name
    return np.zeros(len(rows), dtype=bool), ""


def parity_data(rows: pd.DataFrame, prop: str) -> Parity:
    """The parity data of ``prop`` over ``rows`` (ok records whose values are both finite)."""
    dft = rows[f"ref.{prop}"].astype(float).to_numpy()
    model = rows[f"model.{prop}"].astype(float).to_numpy()
    lo, hi = robust_limits(dft, model)
    beyond = (dft < lo) | (dft > hi) | (model < lo) | (model > hi)
    flagged, name = flags_of(rows)
    return Parity(dft, model, lo, hi, beyond, flagged, name)
