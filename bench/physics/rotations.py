"""Rotations of a structure: so(3) generators, random proper rotations, rotated copies, and
how far forces are from rotating with the structure."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from scipy.spatial.transform import Rotation


def so3_generator(a: int, b: int) -> np.ndarray:
    """E_ab − E_ba: the generator of rotations in the (a, b) plane."""
    out = np.zeros((3, 3))
    out[a, b], out[b, a] = 1.0, -1.0
    return out


def random_rotation(seed: int) -> np.ndarray:
    """A uniformly random proper rotation (3×3), reproducible from ``seed``."""
    return Rotation.random(random_state=seed).as_matrix()


def rotated(atoms: Atoms, rotation: np.ndarray) -> Atoms:
    """``atoms`` with positions and cell (rows) multiplied by ``rotation`` on the right."""
    out = atoms.copy()
    out.set_constraint()
    out.calc = None
    out.set_cell(np.asarray(atoms.cell) @ rotation, scale_atoms=False)
    out.positions = atoms.positions @ rotation
    return out


def force_equivariance(
    forces: np.ndarray, forces_rotated: np.ndarray, rotation: np.ndarray
) -> tuple[float, float]:
    """(max, RMS) over atoms of |F(rR)_i − (F(r)R)_i| (eV/Å)."""
    per_atom = np.linalg.norm(forces_rotated - forces @ rotation, axis=1)
    return float(per_atom.max()), float(np.sqrt(np.mean(per_atom**2)))
