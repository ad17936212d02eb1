"""Static figures of the report: parity plots (PNG) and the histograms of the tasks without
a reference (equigrad)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.names import safe_name
from bench.report.metrics import format_mae, mean_interval
from bench.report.parity import Parity, parity_data
from bench.report.table import COLUMNS, Table
from bench.run.atomic import atomic_path
from bench.tasks import Property


def parity_plots(table: Table, directory: Path) -> list[Path]:
    """One PNG per model and property: model vs DFT (:func:`draw_parity`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    ok = table.records[table.records["status"] == "ok"] if len(table.records) else table.records
    for model, group in ok.groupby("model") if len(ok) else []:
        for prop, (_, _, label) in COLUMNS.items():
            cols = [f"model.{prop}", f"ref.{prop}"]
            if not set(cols) <= set(group.columns):
                continue
            rows = group.loc[np.isfinite(group[cols].astype(float)).all(axis=1)]
            if rows.empty:
                continue
            fig, ax = plt.subplots(figsize=(4.2, 4.2), dpi=120)
            draw_parity(ax, parity_data(rows, prop), model, label)
            fig.tight_layout()
            path = directory / f"{safe_name(model)}__{safe_name(prop)}.png"
            with atomic_path(path) as tmp:
                fig.savefig(tmp)
            plt.close(fig)
            paths.append(path)
    return paths


def draw_parity(ax, data: Parity, model: str, label: str) -> None:
    """Model vs DFT on equal, robust axes: flagged points and those beyond the limits (drawn
    at the edge) in their own markers, counted in the legend; n, MAE and interval on top."""
    lo, hi = data.lo, data.hi
    x, y = data.clipped()
    ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8)
    inside = ~data.beyond
    plain = inside & ~data.flagged
    ax.scatter(x[plain], y[plain], s=8, alpha=0.6, lw=0, label=f"ok ({int(plain.sum())})")
    flagged = inside & data.flagged
    if flagged.any():
        name = f"{data.flag_name} ({int(flagged.sum())})"
        ax.scatter(x[flagged], y[flagged], s=14, marker="x", color="C1", lw=0.8, label=name)
    if data.beyond.any():
        name = f"beyond the axes, at the edge ({int(data.beyond.sum())})"
        style = {"s": 22, "marker": "^", "facecolor": "none", "edgecolor": "C3", "lw": 0.8}
        ax.scatter(x[data.beyond], y[data.beyond], label=name, clip_on=False, **style)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel(f"DFT {label}")
    ax.set_ylabel(f"{model} {label}")
    err = np.abs(data.dft - data.model)
    mae = format_mae(err.mean(), *mean_interval(err))
    ax.set_title(f"{model}: n = {len(err)}, MAE {mae}", fontsize=8)
    ax.legend(fontsize=6, loc="upper left", frameon=False)


def distribution_histogram(
    table: Table, task: str, prop: Property, path: Path, floor: float = 1e-12
) -> Path | None:
    """Histogram of log10 of a reference-free task's property per model (values below
    ``floor``, in the property's unit, at the floor)."""
    records = table.equigrad
    column = f"model.{prop.name}"
    if records.empty or column not in records:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = records[(records["status"] == "ok") & (records["task"] == task)]
    data = {
        model: np.log10(np.maximum(group[column].astype(float).dropna(), floor))
        for model, group in ok.groupby("model")
    }
    data = {k: v for k, v in data.items() if len(v)}
    if not data:
        return None
    values = np.concatenate(list(data.values()))
    bins = np.linspace(values.min() - 0.5, values.max() + 0.5, 25)
    fig, ax = plt.subplots(figsize=(5.0, 3.4), dpi=120)
    for model, v in data.items():
        ax.hist(v, bins=bins, alpha=0.55, label=f"{model} (n={len(v)})")
    ax.set_xlabel(f"log10 {prop.label}")
    ax.set_ylabel("materials")
    ax.set_title(f"{task}, {table.equigrad_subset}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return path
