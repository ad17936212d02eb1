"""Summaries and the figure of ``bench speed pipeline|batch`` rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def pipeline_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (model, task, subset, batch): materials, ok, materials/hour for one worker, model
    share of wall time and harness overhead (%), median seconds per material, peak RSS."""
    groups = frame.groupby(["model", "task", "subset", "batch"], sort=False)
    return groups.apply(
        lambda g: pd.Series(
            {
                "materials": len(g),
                "ok": int((g["status"] == "ok").sum()),
                "materials_per_hour": 3600 * len(g) / g["wall_s"].sum(),
                "median_s_per_material": g["wall_s"].median(),
                "model_share_pct": 100 * g["model_s"].sum() / g["wall_s"].sum(),
                "harness_pct": 100 * g["harness_s"].sum() / g["wall_s"].sum(),
                "phonopy_pct": 100 * g["phonopy_s"].fillna(0).sum() / g["wall_s"].sum(),
                "peak_rss_MB": g["peak_rss_MB"].max(),
            }
        ),
        include_groups=False,
    ).reset_index()


def plot_pipeline(pipeline: pd.DataFrame | None, batching: pd.DataFrame | None, png: Path) -> Path:
    """Left: where a material's wall time goes (model / phonopy / rest), per model, task and
    batch mode (latest rows). Right: batched vs one-by-one speed-up against supercell size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=120)
    if pipeline is not None and len(pipeline):
        keys = ["model", "task", "subset", "batch"]
        latest = pipeline.drop_duplicates([*keys, "material_id"], keep="last")
        parts = latest.assign(phonopy_s=latest["phonopy_s"].fillna(0.0))
        sums = parts.groupby(keys, sort=False)[["wall_s", "model_s", "phonopy_s"]].sum()
        labels = [f"{m} {t}\n{s}{'' if b else ' (1-by-1)'}" for m, t, s, b in sums.index]
        model = 100 * sums["model_s"] / sums["wall_s"]
        phonopy = 100 * sums["phonopy_s"] / sums["wall_s"]
        rest = 100 - model - phonopy
        y = np.arange(len(sums))
        left.barh(y, model, label="inside the model")
        left.barh(y, phonopy, left=model, label="phonopy")
        left.barh(y, rest, left=model + phonopy, label="harness (relax bookkeeping, fit, I/O)")
        left.set_yticks(y, labels, fontsize=7)
        left.set_xlabel("% of wall time")
        left.legend(fontsize=6, loc="lower left")
    left.set_title("pipeline wall time split", fontsize=9)
    if batching is not None and len(batching):
        latest = batching.drop_duplicates(["model", "dtype", "material_id"], keep="last")
        for (model, dtype), group in latest.groupby(["model", "dtype"]):
            right.plot(group["n_atoms"], group["speedup"], "o", label=f"{model} {dtype}")
        right.axhline(1.0, color="grey", lw=0.8)
        right.set_xscale("log")
        right.set_xlabel("atoms per displaced supercell")
        right.set_ylabel("one-by-one / batched time")
        right.legend(fontsize=6)
    right.set_title("batched displacements speed-up", fontsize=9)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png
