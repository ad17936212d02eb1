"""Reference records handed to the pipelines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ase import Atoms

from bench.errors import MaterialError

if TYPE_CHECKING:
    from phonopy import Phonopy


class MalformedReferenceError(MaterialError, ValueError):
    """A reference file or entry cannot be read (corrupt, truncated, missing keys)."""


@dataclass
class PhononReference:
    """DFT phonon reference of one material.

    ``supercell_matrix`` and ``primitive_matrix`` come from the reference file;
    ``supercell_matrix`` None: the data has none (MatCalc's Cv set), the protocol picks it;
    ``primitive_matrix`` None means the unit cell is primitive.
    ``unit_cell`` is in Å with pbc. ``phonopy`` holds the reference force constants (eV/Å²)
    when the data has them (None for the MatCalc Cv set). ``stored`` has the values published
    with the data: ``temperatures_K`` and aligned ``free_energy_kJ_per_mol``,
    ``entropy_J_per_K_mol``, ``heat_capacity_J_per_K_mol`` (per mole of primitive cells);
    ``omega_max_K`` (max ``phonon_freq`` × 47.992) when frequencies were stored.
    ``source`` is the main file's path relative to the data directory, ``sha256`` its hash.
    """

    material_id: str
    dataset: str
    unit_cell: Atoms
    supercell_matrix: np.ndarray | None
    primitive_matrix: np.ndarray | None
    phonopy: Phonopy | None
    stored: dict[str, Any]
    source: str
    sha256: str


#: the largest supercell a phonon calculation builds [atoms]: 2.6x the largest the data sets
#: need (3,822: MatCalc's Cv set at 20 Å; MDR's files at most a few hundred); a file asking
#: for more (a 60x60x60 supercell) would compute for hours
MAX_SUPERCELL_ATOMS = 10_000
#: lattice vector lengths a reference cell may have [Å]: the MatCalc sets span 2.3-147 Å
LATTICE_RANGE_A = (1.0, 500.0)


def check_cell(cell: Any, where: str) -> None:
    """MalformedReferenceError (``where`` names the file) for a lattice vector outside
    :data:`LATTICE_RANGE_A` (a 1e6 Å cell: no crystal, and nothing a model was made for)."""
    lengths = np.linalg.norm(np.asarray(cell, dtype=float).reshape(3, 3), axis=1)
    low, high = LATTICE_RANGE_A
    if not np.all(np.isfinite(lengths)) or lengths.min() < low or lengths.max() > high:
        found = ", ".join(f"{x:.4g}" for x in lengths)
        raise MalformedReferenceError(
            f"{where}: lattice vectors of {found} Å, outside {low:g}-{high:g} Å"
        )


def check_supercell(n_atoms: int, matrix: Any, where: str) -> None:
    """MalformedReferenceError (``where`` names the file or protocol) for a supercell of
    ``n_atoms``-atom cells by ``matrix`` above :data:`MAX_SUPERCELL_ATOMS` atoms."""
    size = n_atoms * round(abs(float(np.linalg.det(np.asarray(matrix, dtype=float)))))
    if size > MAX_SUPERCELL_ATOMS:
        raise MalformedReferenceError(
            f"{where}: a supercell of {size} atoms, above bench's limit of "
            f"{MAX_SUPERCELL_ATOMS} (the largest the data sets need is 3,822)"
        )
