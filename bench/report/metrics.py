"""Summaries over records: mean absolute errors against a reference, or the distribution of a
value that has none (equigrad); successes only, failures counted beside them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench.datasets import get_dataset
from bench.tasks import TASKS

GROUP = ["model", "task", "dataset", "settings_digest"]


#: 95 % percentile-bootstrap interval over materials: resamples and seed (fixed, so a table
#: rebuilt from the same records prints the same interval)
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
#: flags on ok records, counted beside the MAE: record column -> count column (each task
#: declares its own, e.g. elasticity: tensors that are not positive definite)
FLAGS = {column: name for task in TASKS.values() for column, name in task.flags.items()}
#: thermal properties given per mole of something; the data set's ``basis`` says of what
PER_MOLE = tuple(p.name for task in TASKS.values() for p in task.props if p.per_mole)
BASIS_TEXT = {"primcell": "mol primitive cells", "cell": "mol given cells"}


def with_basis(column: str, basis: str | None) -> str:
    """``S_J_per_K_mol.mae`` -> ``S_J_per_K_mol_primcell.mae``: per-mole properties carry the
    data set's basis (``primcell``: per mole of primitive cells, ``cell``: of the given cell)."""
    prop, dot, rest = column.partition(".")
    if basis and prop in PER_MOLE:
        return f"{prop}_{basis}{dot}{rest}"
    return column


def absolute_errors(ok: pd.DataFrame, prop: str) -> pd.Series:
    """|model − reference| of ``prop`` over the rows where both are finite (indexed by row)."""
    model_col, ref_col = f"model.{prop}", f"ref.{prop}"
    if model_col not in ok or ref_col not in ok:
        return pd.Series(dtype=float)
    err = (ok[model_col].astype(float) - ok[ref_col].astype(float)).abs()
    return err[np.isfinite(err)]


def mean_interval(
    values: np.ndarray,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` (resampling the materials with
    replacement); (nan, nan) for fewer than two values."""
    values = np.sort(np.asarray(values, dtype=float))  # the same interval in any row order
    if len(values) < 2:
        return np.nan, np.nan
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 256):  # chunks keep memory at 256 × n
        idx = rng.integers(0, len(values), size=(min(256, resamples - start), len(values)))
        means[start : start + len(idx)] = values[idx].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    return float(lo), float(hi)


def _flag_counts(ok: pd.DataFrame) -> dict[str, int]:
    out = {}
    for column, name in FLAGS.items():
        flags = ok[column].dropna() if column in ok else ()
        if len(flags):  # a flag of this task (records of other tasks leave it empty)
            out[name] = int((~flags.astype(bool)).sum())
    return out


def _counted(key: tuple, group: pd.DataFrame) -> tuple[dict[str, Any], pd.DataFrame]:
    """The group's key columns and status counts, and its ok records."""
    ok = group[group["status"] == "ok"]
    row: dict[str, Any] = dict(zip(GROUP, key, strict=True))
    row.update(
        n=len(group),
        n_ok=len(ok),
        n_failed=int((group["status"] != "ok").sum()),
        n_not_converged=int((group["status"] == "not_converged").sum()),
    )
    return row, ok


def mae_table(records: pd.DataFrame, properties: tuple[str, ...]) -> pd.DataFrame:
    """One row per (model, task, dataset, settings digest).

    Columns: ``n`` (materials recorded), ``n_ok``, ``n_failed`` (all non-ok statuses),
    ``n_not_converged``, the flag counts of :data:`FLAGS` present in the records (e.g.
    ``n_not_pd``), then per property ``<property>`` = MAE over ok records where both the model
    and the reference value are finite (``np.abs(pred - dft).mean()``, as MatCalc and MDR
    average), ``<property>.lo`` / ``.hi`` its 95 % bootstrap interval, ``n_<property>`` how
    many entered it, and, where a stability flag exists, ``<property>.stable`` = the MAE over
    the flagged-stable records only (a secondary number; the MAE keeps every material).
    """
    rows = []
    if records.empty:
        return pd.DataFrame(columns=[*GROUP, "n", "n_ok", "n_failed"])
    for key, group in records.groupby(GROUP, sort=True):
        row, ok = _counted(key, group)
        row.update(_flag_counts(ok))
        stable = _stable_mask(ok)
        for prop in properties:
            err = absolute_errors(ok, prop)
            row[prop] = float(err.mean()) if len(err) else np.nan
            row[f"{prop}.lo"], row[f"{prop}.hi"] = mean_interval(err.to_numpy())
            row[f"n_{prop}"] = len(err)
            if stable is not None:
                kept = err[stable.reindex(err.index, fill_value=False)]
                row[f"{prop}.stable"] = float(kept.mean()) if len(kept) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _stable_mask(ok: pd.DataFrame) -> pd.Series | None:
    """Rows whose stability flag (model tensor positive definite; model phonons stable) is
    True; None when the records carry no such flag."""
    for column in ("model.positive_definite", "model.stable"):
        if column in ok and ok[column].notna().any():
            return ok[column].fillna(False).astype(bool)
    return None


def format_mae(mae: float, lo: float, hi: float) -> str:
    """``17.4 [15.9, 19.1]``: 2 decimals below 10, else 1; the interval likewise."""
    if not np.isfinite(mae):
        return "–"
    digits = 2 if abs(mae) < 10 else 1
    text = f"{mae:.{digits}f}"
    if np.isfinite(lo) and np.isfinite(hi):
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    return text


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
        row, ok = _counted(key, group)
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


def mae_display(
    table: pd.DataFrame, properties: tuple[str, ...], protocols: dict[str, str] | None = None
) -> pd.DataFrame:
    """An :func:`mae_table` for people: counts, flag counts, ``MAE [lo, hi]`` per property
    (95 % bootstrap interval), and the protocol of each settings digest when known. The number
    of materials behind a property goes in its header when every row shares it, else in its
    cells (rows of several data sets)."""
    rows, counts = [], {}
    for _, row in table.iterrows():
        out = {
            "model": row["model"],
            "dataset": row["dataset"],
            "protocol": (protocols or {}).get(row["settings_digest"], "?"),
            "settings": row["settings_digest"],
            "n": int(row["n"]),
            "ok": int(row["n_ok"]),
            "failed": int(row["n_failed"]),
        }
        for name in FLAGS.values():
            if name in row and pd.notna(row[name]):
                out[name.removeprefix("n_").replace("_", " ")] = int(row[name])
        basis = _basis(row["dataset"])
        for prop in properties:
            if prop in row:
                label, n = with_basis(prop, basis), int(row[f"n_{prop}"])
                out[label] = (format_mae(row[prop], row[f"{prop}.lo"], row[f"{prop}.hi"]), n)
                counts.setdefault(label, set()).add(n)
        rows.append(out)
    frame = pd.DataFrame(rows)
    for label, ns in counts.items():
        cells = frame[label]
        if len(ns) == 1:
            frame[label] = [c[0] if isinstance(c, tuple) else "–" for c in cells]
            frame = frame.rename(columns={label: f"{label} (n={ns.pop()})"})
        else:
            frame[label] = [f"{c[0]} (n={c[1]})" if isinstance(c, tuple) else "–" for c in cells]
    return frame


def _basis(dataset: str) -> str | None:
    try:
        return get_dataset(dataset).basis
    except ValueError:  # a record of a data set this version does not define
        return None
