"""Static figures of the report: parity plots (PNG) and the equigrad histogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.names import safe_name
from bench.report.metrics import format_mae, mean_interval
from bench.report.table import COLUMNS, Table


def parity_plots(table: Table, directory: Path) -> list[Path]:
    """One PNG per model and property: model vs DFT, with the MAE in the title."""
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
            data = group[cols].astype(float).dropna()
            if data.empty:
                continue
            x, y = data[cols[1]].to_numpy(), data[cols[0]].to_numpy()
            fig, ax = plt.subplots(figsize=(3.6, 3.6), dpi=120)
            lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
            pad = 0.05 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=0.8)
            ax.scatter(x, y, s=10, alpha=0.7)
            ax.set_xlabel(f"DFT {label}")
            ax.set_ylabel(f"{model} {label}")
            err = np.abs(x - y)
            ax.set_title(
                f"MAE {format_mae(err.mean(), *mean_interval(err))} (n={len(x)})", fontsize=9
            )
            fig.tight_layout()
            path = directory / f"{safe_name(model)}__{safe_name(prop)}.png"
            fig.savefig(path)
            plt.close(fig)
            paths.append(path)
    return paths


def equigrad_histogram(table: Table, path: Path, floor_eV: float = 1e-12) -> Path | None:
    """Histogram of log10 ‖Δrot‖ (eV) per model (values below ``floor_eV`` at the floor)."""
    records = table.equigrad
    if records.empty or "model.delta_rot_eV" not in records:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = records[records["status"] == "ok"]
    data = {
        model: np.log10(np.maximum(group["model.delta_rot_eV"].astype(float).dropna(), floor_eV))
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
    ax.set_xlabel("log10 ‖Δrot‖ [eV]")
    ax.set_ylabel("materials")
    ax.set_title(f"equigrad, {table.equigrad_subset}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
