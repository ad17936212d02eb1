"""A loaded model: its ASE calculator, batched forces and differentiable energy, and what the
manifest records (the contract :mod:`bench.models.protocol` and ``tests/contract.py`` check)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from bench.batching import MAX_BATCH_ATOMS, chunk_by_atoms
from bench.errors import ModelError
from bench.models.checkpoints import file_sha256
from bench.models.devices import free_gpu_memory, is_out_of_memory


@dataclass
class DifferentiableEnergy:
    """A model's total energy as a torch function of Cartesian positions and cell.

    ``positions`` (n, 3) Å and ``cell`` (3, 3) Å (lattice vectors as rows) are the point the
    model featurised: the structure's, possibly wrapped into the cell (so they may differ
    from ``Atoms.positions`` by lattice translations). ``energy(positions, cell)`` returns
    the total energy in eV as a 0-d tensor, differentiable in both arguments; the neighbour
    graph is the one built at that point (valid for rotations, which keep every distance).
    """

    positions: Any  # torch.Tensor (n, 3), Å
    cell: Any  # torch.Tensor (3, 3), Å, rows
    energy: Callable[[Any, Any], Any]  # (positions, cell) -> 0-d tensor, eV


@dataclass
class LoadedModel:
    """A model ready to evaluate (what every adapter's ``load`` returns): the ASE calculator
    plus what the manifest records.

    ``calculator``: energy [eV], forces [eV/Å] and stress [eV/Å³, Voigt]; ``device`` and
    ``dtype`` as run (``dtype`` one of the catalogue's ``dtypes``); ``checkpoint``: the weights
    file loaded (None: weights built in); ``batch_forces`` (optional): forces on several
    structures in one model call, equal to one by one; ``energy_fn`` (optional): the energy as
    a differentiable torch function.
    """

    key: str
    calculator: Calculator
    device: str
    dtype: str
    checkpoint: str | None = None
    #: optional batched force evaluation: list of Atoms -> list of (n, 3) arrays in eV/Å
    batch_forces: Callable[[Sequence[Atoms]], list[np.ndarray]] | None = None
    #: optional differentiable energy of a structure (torch models), for autograd equigrad
    energy_fn: Callable[[Atoms], DifferentiableEnergy] | None = None

    @property
    def checkpoint_sha256(self) -> str | None:
        return file_sha256(self.checkpoint) if self.checkpoint else None

    def forces(
        self,
        structures: Sequence[Atoms],
        batch: bool = True,
        max_batch_atoms: int = MAX_BATCH_ATOMS,
    ) -> list[np.ndarray]:
        """Forces (eV/Å) on each structure; batched (at most ``max_batch_atoms`` atoms per
        model call) when the adapter supports it, else one by one through the ASE calculator.
        A structure alone in its chunk also takes the adapter's path, which computes forces
        only (the calculator adds the stress: twice the cost for CHGNet on a 720-atom
        supercell, results/speed/README.md). A batch the model cannot take (e.g. out of
        memory) is redone one by one, with a warning."""
        if not (batch and self.batch_forces is not None):
            return self._forces_one_by_one(structures)
        out: list[np.ndarray] = []
        for chunk in chunk_by_atoms(structures, max_batch_atoms):
            members = [structures[i] for i in chunk]
            try:
                out.extend(self.batch_forces(members))
            except (RuntimeError, MemoryError, ModelError) as err:  # e.g. out of memory
                if is_out_of_memory(err):
                    free_gpu_memory()
                warnings.warn(
                    f"{self.key}: batch of {len(members)} structures failed "
                    f"({type(err).__name__}: {str(err)[:200]}); evaluating one by one",
                    RuntimeWarning,
                    stacklevel=2,
                )
                out.extend(self._forces_one_by_one(members))
        return out

    def _forces_one_by_one(self, structures: Sequence[Atoms]) -> list[np.ndarray]:
        out = []
        for atoms in structures:
            atoms = atoms.copy()
            atoms.calc = self.calculator
            out.append(np.array(atoms.get_forces(), dtype=float))
        return out
