"""``bench speed forces``: time and peak memory of one force call on a supercell, through the
adapter's force path (what phonon runs use: ``LoadedModel.forces``, batched when the adapter
has one) and through its ASE calculator (energy, forces and stress, as relaxations ask).

Each (size, path) runs in a fresh interpreter, so a peak is that call's alone: ``peak_MB`` is
the process's peak resident memory, ``added_MB`` the part above the loaded model. One warm-up
call on a copy of the cell, then the timed call (both the same size, so the peak is the
call's). Cells: :func:`bench.speed.forward.speed_cell`.
"""

from __future__ import annotations

import time
from typing import Any

from bench.speed.forward import call_in_model_env, speed_cell

#: ``path`` of a row -> what it calls
PATHS = {
    "adapter": "LoadedModel.forces([atoms]) (the phonon pipeline's force path)",
    "calculator": "ASE calculator: energy, forces, stress",
}


def force_call(
    model: str,
    n_atoms: int,
    path: str,
    threads: int | None = None,
    checkpoint: str | None = None,
    dtype: str | None = None,
) -> list[dict[str, Any]]:
    """One row: seconds and peak memory (MB) of one force call through ``path`` (a key of
    :data:`PATHS`) on a ~``n_atoms`` supercell, in this process."""
    from bench.models import load_model, resolve
    from bench.models.timing import peak_rss_mb
    from bench.run.threads import set_threads

    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}; one of {sorted(PATHS)}")
    if threads:
        set_threads(threads)
    loaded = load_model(model, checkpoint=checkpoint, dtype=dtype)
    atoms = speed_cell(n_atoms, resolve(model).family)
    loaded_mb = peak_rss_mb()

    def call(cell: Any) -> None:
        if path == "adapter":
            loaded.forces([cell], batch=True)
        else:
            cell = cell.copy()
            cell.calc = loaded.calculator
            cell.get_forces()
            cell.get_stress()

    warm = atoms.copy()
    warm.positions[0, 0] += 1e-4  # not the timed cell: no calculator cache may serve it
    call(warm)
    start = time.perf_counter()
    call(atoms)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    return [
        {
            "model": loaded.key,
            "dtype": loaded.dtype,
            "n_atoms": len(atoms),
            "path": path,
            "seconds": seconds,
            "peak_MB": peak,
            "added_MB": peak - loaded_mb,
            "threads": threads or "default",
        }
    ]


def time_forces(
    model: str,
    sizes: tuple[int, ...],
    threads: int | None = None,
    checkpoint: str | None = None,
    dtype: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of :func:`force_call` for every size and path, each in a fresh interpreter (the
    model family's own environment when it has one)."""
    rows = []
    for size in sizes:
        for path in PATHS:
            rows += call_in_model_env(
                model,
                "bench.speed.forces:force_call",
                fresh=True,
                n_atoms=size,
                path=path,
                threads=threads,
                checkpoint=checkpoint,
                dtype=dtype,
            )
    return rows
