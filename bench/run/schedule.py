"""Order and placement of materials: largest first within short windows, and which
supercells are too big to share the machine's memory."""

from __future__ import annotations

import os

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


#: measured on this machine's kind (CHGNet, MatCalc Cv binaries, results/README.md): single
#: supercells above 1,000 atoms peaked at 12-20 GB per worker, those below at a few GB
PEAK_GB_ABOVE_1000_ATOMS = 20.0


def alone_above_atoms(total_memory_gb: float) -> float:
    """Supercell size above which a material runs alone: 1,000 atoms when two such workers
    would not fit (2 × 20 GB > memory), none on a machine with room for them."""
    return 1000.0 if total_memory_gb < 2 * PEAK_GB_ABOVE_1000_ATOMS else float("inf")


def total_memory_gb() -> float:
    """Physical memory of this machine [GB] (inf when the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError):
        return float("inf")


def run_alone(job: Job, ids: list[str], limit: float | None) -> set[str]:
    """Materials of ``ids`` too big to share the machine: phonon supercells above ``limit``
    atoms (None: :func:`alone_above_atoms` for this machine's memory); other tasks never."""
    if job.task != "phonons":
        return set()
    dataset, data_dir = job.dataset, job.data_dir
    if limit is None:
        limit = alone_above_atoms(total_memory_gb())
    hints = size_hints(dataset, ids, data_dir)
    if get_dataset(dataset).format == "mdr":  # hints are file sizes there, not atoms
        return set()
    return {i for i in ids if hints.get(i, 0.0) > limit}
