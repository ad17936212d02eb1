"""Summaries and the figure of ``bench speed pipeline|batch`` rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: what a pipeline row is grouped by: relax parts "ase" (ASE's own cell filter and symmetry
#: constraint, as before they were bench's) or "bench" (bench.physics.relax_parts)
PIPELINE_KEYS = ["model", "task", "subset", "batch", "relax_parts"]


def _with_parts(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``relax_parts`` on every row: rows measured before the column existed
    ran ASE's own cell filter and symmetry constraint."""
    parts = frame["relax_parts"] if "relax_parts" in frame else pd.Series(None, index=frame.index)
    return frame.assign(relax_parts=parts.fillna("ase"))


def _per_step_ms(g: pd.DataFrame) -> float:
    """The harness's milliseconds per relaxation step over the rows that have them."""
    if "harness_ms_per_step" not in g:
        return np.nan
    rows = g.dropna(subset=["harness_ms_per_step", "relax_model_s"])
    steps = rows["relax_steps"].sum()
    return 1000 * (rows["relax_s"] - rows["relax_model_s"]).sum() / steps if steps else np.nan


def pipeline_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (model, task, subset, batch, relax parts): materials, ok, materials/hour for one
    worker, model share of wall time and harness overhead (%), the harness's milliseconds per
    relaxation step, median seconds per material, peak RSS."""
    groups = _with_parts(frame).groupby(PIPELINE_KEYS, sort=False)
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
                "harness_ms_per_step": _per_step_ms(g),
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
        keys = PIPELINE_KEYS
        latest = _with_parts(pipeline).drop_duplicates([*keys, "material_id"], keep="last")
        parts = latest.assign(phonopy_s=latest["phonopy_s"].fillna(0.0))
        sums = parts.groupby(keys, sort=False)[["wall_s", "model_s", "phonopy_s"]].sum()
        labels = [
            f"{m} {t}\n{s}{'' if b else ' (1-by-1)'}{' ASE parts' if p == 'ase' else ''}"
            for m, t, s, b, p in sums.index
        ]
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
