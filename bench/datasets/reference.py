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
