"""Order and placement of materials: largest first within short windows, and which
supercells are too big to share the machine's memory."""

from __future__ import annotations

import os

from bench.batching import MAX_BATCH_ATOMS
from bench.datasets import get_dataset, size_hints
from bench.run.config import Job

#: largest-first reordering is confined to consecutive windows of this many materials per
#: worker, so a subset's seeded order survives: every prefix of a full-set run stays a uniform
#: random sample of the set (only the last window is partly done when a run stops)
LPT_WINDOW_PER_WORKER = 4


def largest_first_within_windows(ids: list[str], hints: dict[str, float], window: int) -> list[str]:
    """``ids`` with each consecutive window of ``window`` materials sorted largest first
    (longest-processing-time order, so no big cell straggles at the end of a window)."""
    window = max(1, window)
    out: list[str] = []
    for start in range(0, len(ids), window):
        out += sorted(ids[start : start + window], key=lambda i: -hints.get(i, 0.0))
    return out


#: upper envelope of one phonon material's peak memory [MB]: peak ≤ PEAK_BASE_MB +
#: PEAK_MB_PER_ATOM × max(supercell atoms, bench.batching.MAX_BATCH_ATOMS) for every measured
#: material (bench.speed.peaks.envelope). Measured with CHGNet (the model of the Cv run; other
#: models' records give theirs with the same command) on the MatCalc Cv binaries:
#: ``bench speed peaks --model chgnet --records results/records --since
#: 2026-12-03T17:10:00+00:00 --until 2026-12-03T19:20:00+00:00`` (124 records measured with the
#: heap handed back before each material; results/speed/peaks.csv, results/speed/README.md)
PEAK_BASE_MB = 591.0
PEAK_MB_PER_ATOM = 7.95

#: memory [MB] kept for the OS, the run's client (a few hundred MB) and the user's shell
RESERVED_MB = 2048.0


def alone_above_atoms(
    total_memory_mb: float,
    base_mb: float = PEAK_BASE_MB,
    mb_per_atom: float = PEAK_MB_PER_ATOM,
) -> float:
    """Supercell size [atoms] above which a phonon material runs alone: where the envelope
    (:data:`PEAK_BASE_MB`, :data:`PEAK_MB_PER_ATOM`) exceeds half of the memory left after
    :data:`RESERVED_MB`, so two such materials would not fit side by side. 0 (all alone) when
    even a batch-sized call does not fit in half; inf when the envelope does not grow."""
    if mb_per_atom <= 0:
        return float("inf")
    limit = ((total_memory_mb - RESERVED_MB) / 2 - base_mb) / mb_per_atom
    return limit if limit >= MAX_BATCH_ATOMS else 0.0


def total_memory_mb() -> float:
    """Physical memory of this machine [MB, 2**20 bytes] (inf when the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError):
        return float("inf")


#: the unrelaxed cell is shrunk by this fraction before its supercell is sized for
#: :func:`run_alone`, so a relaxation that contracts the cell, and gives its supercell a layer
#: more, is still seen as big (of the first 850 CHGNet Cv records, 6 supercells were larger than
#: the unrelaxed cell's, 2 larger than the 2 %-contracted one's, at 3 more run alone)
ALONE_CONTRACTION = 0.02


def run_alone(job: Job, ids: list[str], limit: float | None) -> set[str]:
    """Materials of ``ids`` too big to share the machine: MatCalc phonon supercells (of the
    run's ``supercell_min_length_A``) above ``limit`` atoms (None: :func:`alone_above_atoms`
    for this machine's memory); other tasks never, nor MDR (its supercells, from the
    reference, stay small: at most a few hundred atoms)."""
    phonons = hasattr(job.settings, "supercell_min_length_A")  # a phonon task's settings
    if not phonons or get_dataset(job.dataset).format == "mdr":
        return set()
    if limit is None:
        limit = alone_above_atoms(total_memory_mb())
    length = job.settings.supercell_min_length_A
    hints = size_hints(job.dataset, ids, job.data_dir, length, ALONE_CONTRACTION)
    return {i for i in ids if hints.get(i, 0.0) > limit}
