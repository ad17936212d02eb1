"""Supercell choice for finite-displacement phonons when the reference gives none."""

from __future__ import annotations

import numpy as np
from ase import Atoms


def min_length_supercell(atoms: Atoms, min_length_A: float) -> np.ndarray:
    """MatCalc 0.7.0 PhononCalc's supercell, ``diag(ceil(min_length / |a_i|))``, (3,3) int.

    Copies ``_phonon.py`` ``_run_phonopy``:
    ``np.diag(np.ceil(self.min_length / np.array(structure.lattice.abc)).astype(int))``. Only
    the lattice vector lengths count (not the distances between lattice planes), so a long,
    oblique vector can give a thin supercell; this is MatCalc's rule as published.
    """
    lengths = np.linalg.norm(np.asarray(atoms.get_cell(), dtype=float), axis=1)
    if np.any(lengths <= 0) or not np.all(np.isfinite(lengths)):
        raise ValueError("cell has a zero-length or non-finite lattice vector")
    return np.diag(np.ceil(min_length_A / lengths).astype(int))
