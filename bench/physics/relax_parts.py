"""The symmetry constraint and cell filter of a relaxation: ASE's ``FixSymmetry`` and
``FrechetCellFilter``, the same numbers (bit for bit: the same operations in the same order)
at a fraction of their cost per step.

Profiled on CHGNet relaxations (results/speed/README.md, harness cost per step), ASE's versions
spent more time per step than the model on small cells:

- ``FrechetCellFilter.get_forces`` (a matrix log and nine ``expm_frechet`` calls) was
  evaluated 3–4 times per FIRE step for the same state: the step, the convergence test,
  bench's divergence guard, the end of a pass. :class:`FastFrechetCellFilter` keeps the last
  result for the same positions and cell.
- ``FixSymmetry`` symmetrised forces and steps in a loop over the symmetry operations that
  turned each operation's atom map (a list) into an index array every time, and every
  calculator call deep-copied it with its atoms and maps. :class:`FastFixSymmetry` keeps the
  maps as arrays and the rotations as floats, adds in ASE's order, and shares its read-only
  state when copied.
"""

from __future__ import annotations

import copy
from typing import Any
from warnings import warn

import numpy as np
from ase.constraints import FixSymmetry
from ase.filters import FrechetCellFilter
from ase.spacegroup.symmetrize import symmetrize_rank1, symmetrize_rank2
from ase.stress import full_3x3_to_voigt_6_stress, voigt_6_to_full_3x3_stress


class FastFixSymmetry(FixSymmetry):
    """ASE's ``FixSymmetry`` (refined cell, the same symmetry operations and maps), with the
    symmetrisations as array operations."""

    def __init__(self, atoms: Any, symprec: float = 0.01, **kwargs: Any) -> None:
        super().__init__(atoms, symprec=symprec, **kwargs)
        self._rot = np.asarray(self.rotations, dtype=float)  # (ops, 3, 3), as np.dot casts
        maps = np.asarray(self.symm_map)  # (ops, atoms): op o takes atom a to maps[o, a]
        n = maps.shape[1] if maps.ndim == 2 else 0
        one_to_one = maps.ndim == 2 and all(np.array_equal(np.sort(m), np.arange(n)) for m in maps)
        # inverse maps: the atom each op takes to atom b (ASE's loop adds at maps[o, a])
        self._inverse = np.argsort(maps, axis=1) if one_to_one else None

    def __deepcopy__(self, memo: dict) -> FastFixSymmetry:
        """A copy sharing the operations and maps (never changed in place): the calculator
        copies the atoms, constraints included, at every call."""
        new = copy.copy(self)
        memo[id(self)] = new
        return new

    def _rank1(self, atoms: Any, vectors: np.ndarray) -> np.ndarray:
        """``vectors`` (atoms × 3, Cartesian) averaged over the symmetry operations: ASE's
        ``symmetrize_rank1``, the same additions in the same order."""
        lattice, inverse = atoms.get_cell()[:], atoms.cell.reciprocal().T
        if self._inverse is None:
            args = (self.rotations, self.translations, self.symm_map)
            return symmetrize_rank1(lattice, inverse, vectors, *args)
        scaled = np.dot(inverse.T, vectors.T)  # (3, atoms)
        total = np.zeros(scaled.shape)
        for rotation, back in zip(self._rot, self._inverse, strict=True):
            # ASE: total[:, map] += R @ scaled, i.e. atom b gets the term of atom back[b]
            total += np.dot(rotation, scaled)[:, back]
        total /= len(self._rot)
        return (lattice.T @ total).T

    def _rank2(self, atoms: Any, tensor: np.ndarray) -> np.ndarray:
        """A 3×3 tensor averaged over the symmetry operations: ASE's ``symmetrize_rank2``."""
        lattice, inverse = atoms.get_cell()[:], atoms.cell.reciprocal().T
        return symmetrize_rank2(lattice, inverse, tensor, self._rot)

    def adjust_positions(self, atoms: Any, new: np.ndarray) -> None:
        if self.do_adjust_positions:
            new[:] = atoms.positions + self._rank1(atoms, new - atoms.positions)

    def adjust_forces(self, atoms: Any, forces: np.ndarray) -> None:
        forces[:] = self._rank1(atoms, forces)

    def adjust_stress(self, atoms: Any, stress: np.ndarray) -> None:
        full = self._rank2(atoms, voigt_6_to_full_3x3_stress(stress))
        stress[:] = full_3x3_to_voigt_6_stress(full)

    def adjust_cell(self, atoms: Any, cell: np.ndarray) -> None:
        """As ASE's: the deformation gradient step symmetrised as a rank-2 tensor."""
        if not self.do_adjust_cell:
            return
        current = atoms.get_cell()[:]
        step = np.dot(atoms.cell.reciprocal().T, cell).T - np.eye(3)
        largest = np.max(np.abs(step))
        if largest > 0.25:
            raise RuntimeError(
                "FixSymmetry adjust_cell does not work properly with large deformation "
                f"gradient step {largest} > 0.25"
            )
        if largest > 0.15:
            warn(
                f"FixSymmetry adjust_cell may be ill behaved with large deformation gradient "
                f"step {largest}",
                stacklevel=2,
            )
        symmetric = self._rank2(atoms, step)
        cell[:] = np.dot(current, (symmetric + np.eye(3)).T)


class FastFrechetCellFilter(FrechetCellFilter):
    """ASE's ``FrechetCellFilter`` whose ``get_forces`` (and the ``stress`` it sets) is
    computed once per positions and cell."""

    def __init__(self, atoms: Any, **kwargs: Any) -> None:
        super().__init__(atoms, **kwargs)
        self._last: tuple[bytes, np.ndarray, np.ndarray] | None = None

    def _key(self, kwargs: dict[str, Any]) -> bytes:
        state = (self.atoms.positions.tobytes(), self.atoms.cell[:].tobytes(), repr(kwargs))
        return repr(state).encode()

    def get_forces(self, **kwargs: Any) -> np.ndarray:
        key = self._key(kwargs)
        if self._last is not None and self._last[0] == key:
            self.stress = self._last[2].copy()
            return self._last[1].copy()
        forces = super().get_forces(**kwargs)
        self._last = (key, forces.copy(), np.array(self.stress, copy=True))
        return forces
