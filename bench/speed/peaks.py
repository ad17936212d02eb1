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
from typing import Any

import numpy as np
import pandas as pd

from bench.batching import MAX_BATCH_ATOMS
from bench.errors import ConfigurationError

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


def call_atoms(n_atoms: np.ndarray | float, batch_atoms: int = MAX_BATCH_ATOMS) -> np.ndarray:
    """Atoms in a phonon material's largest model call: displaced supercells are batched up
    to ``batch_atoms`` (``bench.batching``), so small supercells fill the cap."""
    return np.maximum(np.asarray(n_atoms, float), batch_atoms)


def envelope(rows: pd.DataFrame) -> tuple[float, float]:
    """``(base_MB, MB_per_atom)``: every measured peak ≤ ``base + MB_per_atom ×``
    :func:`call_atoms`. ``base`` is the smallest peak (interpreter and loaded model), the slope
    the largest memory per atom of a model call among the measured materials: an upper bound
    for cells no denser than those measured (memory follows the graph's edges, so atoms per
    cell alone misjudge a dense material; a mean fit would not bound it)."""
    if rows["n_atoms"].nunique() < 2:
        raise ValueError("need peaks of at least two supercell sizes")
    peak = rows["peak_MB"].to_numpy(float)
    base = float(peak.min())
    return base, float(((peak - base) / call_atoms(rows["n_atoms"])).max())


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
    table["envelope_MB"] = base_mb + mb_per_atom * call_atoms(table["largest_cell"])
    table.index = [f"{b.left:.0f}-{b.right:.0f}" for b in table.index]
    return table.rename_axis("atoms").reset_index()


def measure(records: pd.DataFrame, memory_mb: float) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The bin table and the envelope, with the supercell size above which
    :mod:`bench.run.schedule` would run a material alone on ``memory_mb`` [MB] under it."""
    from bench.run.schedule import alone_above_atoms

    rows = peak_rows(records)
    base, per_atom = envelope(rows)
    fit = {
        "n_records": len(rows),
        "base_MB": round(base, 1),
        "MB_per_atom": round(per_atom, 3),
        "memory_MB": round(memory_mb),
        "alone_above_atoms": round(alone_above_atoms(memory_mb, base, per_atom)),
    }
    return peak_table(rows, base, per_atom), fit


def _utc(when: str, option: str) -> pd.Timestamp:
    """An ISO time given on the command line, as UTC (a time without a zone is UTC)."""
    try:
        stamp = pd.Timestamp(when)
    except ValueError as err:
        raise ConfigurationError(f"{option} {when!r}: not an ISO time ({err})") from err
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def made_within(created_at: pd.Series, since: str | None, until: str | None) -> pd.Series:
    """Which records were made in [since, until] (either end open when not given)."""
    made = pd.to_datetime(created_at, utc=True, format="ISO8601")
    keep = pd.Series(True, index=created_at.index)
    if since:
        keep &= made >= _utc(since, "--since")
    if until:
        keep &= made <= _utc(until, "--until")
    return keep
