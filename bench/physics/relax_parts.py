"""The symmetry constraint and cell filter of a relaxation: ASE's ``FixSymmetry`` and
``FrechetCellFilter``, the same numbers (to rounding) at a fraction of their cost per step.

Profiled on CHGNet relaxations (results/speed/README.md, harness cost per step), ASE's versions
spent more time per step than the model on small cells:

- ``FrechetCellFilter.get_forces`` was evaluated 3–4 times per FIRE step (the step, the
  convergence test, bench's divergence guard, the end of a pass), each with a matrix log and
  nine ``expm_frechet`` calls. :class:`FastFrechetCellFilter` keeps the last result for the
  same positions and cell, and gets the cell gradient from one ``expm_frechet`` call: for
  real X, ⟨L_exp(X, E), G⟩ = ⟨E, L_exp(Xᵀ, G)⟩ (Frobenius), so the nine directional
  derivatives contracted with G are the one derivative of Xᵀ in the direction G.
- ``FixSymmetry`` symmetrised forces and steps in a Python loop over the symmetry operations
  (with a list index converted each time), and every calculator call deep-copied it with its
  atoms and maps. :class:`FastFixSymmetry` does the same sums as array operations when each
  operation maps the atoms one-to-one (else ASE's loop), and shares its read-only state when
  copied.
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
        self._rot = np.asarray(self.rotations, dtype=float)  # (ops, 3, 3)
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
        """``vectors`` (atoms × 3, Cartesian) averaged over the symmetry operations."""
        lattice, inverse = atoms.get_cell()[:], atoms.cell.reciprocal().T
        if self._inverse is None:
            args = (self.rotations, self.translations, self.symm_map)
            return symmetrize_rank1(lattice, inverse, vectors, *args)
        scaled = inverse.T @ vectors.T  # (3, atoms)
        moved = np.einsum("oij,jn->oni", self._rot, scaled)  # (ops, atoms, 3)
        gathered = moved[np.arange(len(self._rot))[:, None], self._inverse]
        return (lattice.T @ (gathered.sum(axis=0) / len(self._rot)).T).T

    def _rank2(self, atoms: Any, tensor: np.ndarray) -> np.ndarray:
        """A 3×3 tensor averaged over the symmetry operations (ASE's ``symmetrize_rank2``)."""
        lattice, inverse = atoms.get_cell()[:], atoms.cell.reciprocal().T
        scaled = lattice @ tensor @ lattice.T
        mean = np.einsum("oji,jk,okl->il", self._rot, scaled, self._rot) / len(self._rot)
        return inverse @ mean @ inverse.T

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
        if self._inverse is None:
            inverse = atoms.cell.reciprocal().T
            symmetric = symmetrize_rank2(current, inverse, step, self.rotations)
        else:
            symmetric = self._rank2(atoms, step)
        cell[:] = np.dot(current, (symmetric + np.eye(3)).T)


class FastFrechetCellFilter(FrechetCellFilter):
    """ASE's ``FrechetCellFilter`` (default options: no mask, pressure or volume constraint)
    whose ``get_forces`` is computed once per positions and cell, with one Fréchet derivative."""

    def __init__(self, atoms: Any, **kwargs: Any) -> None:
        super().__init__(atoms, **kwargs)
        self._plain = not kwargs  # the options bench uses; others: ASE's own get_forces
        self._last: tuple[bytes, np.ndarray, np.ndarray] | None = None

    def _key(self, kwargs: dict[str, Any]) -> bytes:
        state = (self.atoms.positions.tobytes(), self.atoms.cell[:].tobytes(), repr(kwargs))
        return repr(state).encode()

    def get_forces(self, **kwargs: Any) -> np.ndarray:
        key = self._key(kwargs)
        if self._last is not None and self._last[0] == key:
            self.stress = self._last[2].copy()
            return self._last[1].copy()
        forces = self._forces(**kwargs) if self._plain else super().get_forces(**kwargs)
        self._last = (key, forces.copy(), np.array(self.stress, copy=True))
        return forces

    def _forces(self, **kwargs: Any) -> np.ndarray:
        """ASE's ``get_forces_frechet`` with the nine directional derivatives as one."""
        stress = self.atoms.get_stress(**kwargs)
        atoms_forces = self.atoms.get_forces(**kwargs)
        cell = self.atoms.get_cell()
        volume = cell.volume
        virial = -volume * voigt_6_to_full_3x3_stress(stress)
        deform = self.deform_grad()
        log_deform = self.logm(deform)
        cell_gradient = virial @ np.linalg.inv(deform.T)  # UnitCellFilter's
        # <L(X, E_mn), G> for each unit direction E_mn is L(X^T, G)[m, n]
        log_force = self.expm_frechet(log_deform.T, cell_gradient, compute_expm=False)
        self.stress = full_3x3_to_voigt_6_stress(-(virial / volume))
        natoms = len(atoms_forces)
        forces = np.zeros((natoms + 3, 3))
        forces[:natoms] = atoms_forces @ deform
        forces[natoms:] = log_force / self.exp_cell_factor
        return forces
