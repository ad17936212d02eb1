"""``bench speed peaks``: peak memory of phonon materials against their supercell size, read
from records (no model runs), and the linear envelope the schedule uses to decide which
supercells run alone (:mod:`bench.run.schedule`).

A record's ``material_peak_rss_MB`` is its worker's resident peak while that material ran
(VmHWM reset per material, :func:`bench.models.timing.reset_peak_rss`): model, relaxation,
batched displaced supercells (at most ``bench.batching.MAX_BATCH_ATOMS`` atoms per call, or
one supercell), phonopy. Records made before that field existed carry only the worker's peak
so far and are left out.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

#: supercell-size bins of the table [atoms]
EDGES = (0, 256, 512, 1000, 1500, 2000, 3000, 5000)


def peak_rows(records: pd.DataFrame) -> pd.DataFrame:
    """``material_id, status, n_atoms, peak_MB`` of the phonon records that carry their own
    peak (any status: a failure's peak is a peak)."""
    rows = []
    for r in records.itertuples():
        details = json.loads(r.details_json) if isinstance(r.details_json, str) else None
        peak = (details or {}).get("material_peak_rss_MB")
        n_atoms = (details or {}).get("n_atoms_supercell")
        if peak is not None and n_atoms is not None:
            rows.append((r.material_id, r.status, int(n_atoms), float(peak)))
    return pd.DataFrame(rows, columns=["material_id", "status", "n_atoms", "peak_MB"])


def envelope(rows: pd.DataFrame) -> tuple[float, float]:
    """``(base_MB, MB_per_atom)`` of the least-squares line of peak against supercell atoms,
    raised until no measured peak lies above it (an upper bound, not a mean)."""
    if len(rows) < 2 or rows["n_atoms"].nunique() < 2:
        raise ValueError("need peaks of at least two supercell sizes")
    n, peak = rows["n_atoms"].to_numpy(float), rows["peak_MB"].to_numpy(float)
    slope, intercept = np.polyfit(n, peak, 1)
    return float(intercept + (peak - (intercept + slope * n)).max()), float(slope)


def atoms_for_memory(base_mb: float, mb_per_atom: float, memory_mb: float) -> float:
    """Largest supercell [atoms] whose envelope peak fits in ``memory_mb`` (inf when the
    envelope does not grow)."""
    if mb_per_atom <= 0:
        return math.inf
    return max(0.0, (memory_mb - base_mb) / mb_per_atom)


def peak_table(rows: pd.DataFrame, base_mb: float, mb_per_atom: float) -> pd.DataFrame:
    """Per size bin: materials, median and largest peak [MB], and the envelope at the bin's
    largest supercell."""
    bins = pd.cut(rows["n_atoms"], EDGES, right=True)
    table = rows.groupby(bins, observed=True).agg(
        n=("peak_MB", "size"),
        largest_cell=("n_atoms", "max"),
        median_peak_MB=("peak_MB", "median"),
        max_peak_MB=("peak_MB", "max"),
    )
    table["envelope_MB"] = base_mb + mb_per_atom * table["largest_cell"]
    table.index = [f"{b.left:.0f}-{b.right:.0f}" for b in table.index]
    return table.rename_axis("atoms").reset_index()


def measure(records: pd.DataFrame, memory_mb: float) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The bin table and the envelope (with the supercell size above which a material needs
    more than half of ``memory_mb``, what :mod:`bench.run.schedule` runs alone)."""
    rows = peak_rows(records)
    base, per_atom = envelope(rows)
    fit = {
        "n_records": len(rows),
        "base_MB": round(base, 1),
        "MB_per_atom": round(per_atom, 3),
        "memory_MB": round(memory_mb),
        "alone_above_atoms": round(atoms_for_memory(base, per_atom, memory_mb / 2)),
    }
    return peak_table(rows, base, per_atom), fit
