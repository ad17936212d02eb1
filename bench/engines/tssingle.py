"""Single points (energy, forces, stress) of many structures in shared torch-sim batches."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ase import Atoms

from bench.engines.tsmodel import Budget, Float64Driver, Outcome, model_error, to_state


def evaluate_batch(
    structures: Sequence[Atoms], driver: Float64Driver, budget: Budget
) -> list[Outcome]:
    """Energy [eV], forces [eV/Å] and stress [eV/Å³, 3×3, ASE's sign] of each structure, in
    consecutive batches within ``budget``; a batch that raises is redone one by one, and a
    structure that raises alone gets its failure as its result (:func:`model_error`)."""
    outcomes = [Outcome() for _ in structures]
    chunks: list[list[int]] = []
    used = 0.0
    for i, atoms in enumerate(structures):
        size = budget.size(atoms)
        if chunks and chunks[-1] and used + size <= budget.limit:
            chunks[-1].append(i)
            used += size
        else:
            chunks.append([i])
            used = size
    for chunk in chunks:
        _evaluate_chunk(structures, chunk, driver, outcomes)
    return outcomes


def _evaluate_chunk(
    structures: Sequence[Atoms], chunk: list[int], driver: Float64Driver, outcomes: list[Outcome]
) -> None:
    t0 = time.perf_counter()
    try:
        out = driver(to_state([structures[i] for i in chunk], driver.device))
    except Exception as err:
        if len(chunk) == 1:
            outcomes[chunk[0]].result = model_error(err)
            return
        for i in chunk:
            _evaluate_chunk(structures, [i], driver, outcomes)
        return
    seconds = time.perf_counter() - t0
    total = sum(len(structures[i]) for i in chunk)
    forces = out["forces"].detach().cpu().numpy()
    stress = out["stress"].detach().cpu().numpy()
    energy = out["energy"].detach().cpu().numpy()
    start = 0
    for b, i in enumerate(chunk):
        n = len(structures[i])
        outcomes[i].result = {
            "energy": float(energy[b]),
            "forces": forces[start : start + n].astype(float),
            "stress": stress[b].astype(float),
        }
        outcomes[i].seconds += seconds * n / total
        outcomes[i].calls += 1
        start += n
