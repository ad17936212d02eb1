"""Split many structures into model batches capped by total atom count."""

from __future__ import annotations

from collections.abc import Sequence

from ase import Atoms

#: default cap on atoms per model call: bounds memory (CHGNet's three-body graph of a batch of
#: ~100 displaced 136-atom supercells took >13 GB), still several supercells per call.
MAX_BATCH_ATOMS = 512


def chunk_by_atoms(
    structures: Sequence[Atoms], max_atoms: int = MAX_BATCH_ATOMS
) -> list[list[int]]:
    """Indices of ``structures`` in consecutive chunks of at most ``max_atoms`` atoms
    (a structure larger than the cap gets a chunk of its own)."""
    chunks: list[list[int]] = []
    current: list[int] = []
    atoms_in_chunk = 0
    for index, atoms in enumerate(structures):
        if current and atoms_in_chunk + len(atoms) > max_atoms:
            chunks.append(current)
            current, atoms_in_chunk = [], 0
        current.append(index)
        atoms_in_chunk += len(atoms)
    if current:
        chunks.append(current)
    return chunks
