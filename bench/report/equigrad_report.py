"""The equigrad report: ‖Δrot‖ distributions per model (markdown, CSV, histogram)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from bench.report.figures import equigrad_histogram
from bench.report.metrics import distribution_table
from bench.report.table import Table
from bench.run.store import details_of

#: equigrad property -> column label (all from ``distribution_table``)
EQUIGRAD_COLUMNS = {
    "delta_rot_eV": "‖Δrot‖ [eV]",
    "delta_rot_eV_per_atom": "‖Δrot‖/N [eV/atom]",
    "rotation_dE_eV_per_atom": "ΔE under a random R, per atom [eV]",
    "force_equiv_max_eV_per_A": "max ‖F(rR) − F(r)R‖ [eV/Å]",
}


def equigrad_table(table: Table) -> pd.DataFrame:
    """One row per model: counts, method, and median / p95 of each equigrad property."""
    records = table.equigrad
    if records.empty:
        return pd.DataFrame()
    summary = distribution_table(records, tuple(EQUIGRAD_COLUMNS))
    methods = {}
    for model, group in records[records["status"] == "ok"].groupby("model"):
        found = {details_of(d).get("method") for d in group["details_json"]}
        methods[model] = "+".join(sorted(m for m in found if m))
    summary["method"] = summary["model"].map(methods).fillna("")
    keep = ["model", "dataset", "settings_digest", "n", "n_ok", "n_failed", "method"]
    for prop in EQUIGRAD_COLUMNS:
        keep += [f"{prop}.median", f"{prop}.p95"]
    return summary[keep]


def equigrad_markdown(table: Table) -> str:
    """Markdown of :func:`equigrad_table`: `median (p95)` per cell."""
    frame = equigrad_table(table)
    out = io.StringIO()
    out.write("| model | " + " | ".join(EQUIGRAD_COLUMNS.values()) + " | n (failed) | method |\n")
    out.write("|---" * (len(EQUIGRAD_COLUMNS) + 3) + "|\n")
    for _, row in frame.iterrows():
        cells = [
            f"{row[f'{p}.median']:.3g} ({row[f'{p}.p95']:.3g})"
            if pd.notna(row[f"{p}.median"])
            else "–"
            for p in EQUIGRAD_COLUMNS
        ]
        count = f"{int(row['n_ok'])} ({int(row['n_failed'])})"
        out.write(f"| {row['model']} | " + " | ".join(cells) + f" | {count} | {row['method']} |\n")
    out.write(
        "\nCells: median (95th percentile) over the materials of "
        f"`{table.equigrad_subset}`, reference structures unrelaxed. No DFT reference: an "
        "invariant model gives 0. Δrot = ∂E(rR, hR)/∂G at G = 0 with R = exp(G − Gᵀ) "
        "(Frobenius norm, eV); method autograd (the adapter's differentiable energy) or fd "
        "(central differences over the three so(3) generators). Settings digests: "
        + ", ".join(sorted(set(frame["settings_digest"])))
        + ".\n"
    )
    return out.getvalue()


def write_equigrad(table: Table, out: Path, command: str) -> list[Path]:
    """<out>/equigrad.md, equigrad.csv and equigrad_hist.png (nothing without records)."""
    if table.equigrad.empty:
        return []
    out.mkdir(parents=True, exist_ok=True)
    md = out / "equigrad.md"
    md.write_text(
        f"# Equigrad: rotational invariance (‖Δrot‖)\n\nMade by: `{command}`\n\n"
        + equigrad_markdown(table)
    )
    csv_path = out / "equigrad.csv"
    equigrad_table(table).to_csv(csv_path, index=False)
    hist = equigrad_histogram(table, out / "equigrad_hist.png")
    return [md, csv_path, *([hist] if hist else [])]
