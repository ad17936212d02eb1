"""A batched engine's results, served to a task as if its model computed them now.

The engine relaxes and evaluates many materials' structures in shared batches first; then each
material's task runs as usual (:func:`bench.tasks.run_one`, one record each, its failures its
own) with a :class:`ReplayModel`: its relaxation returns the engine's, and the model outputs on
a structure the engine evaluated are read back (matched by atomic numbers, cell and positions
rounded to :data:`KEY_DECIMALS` Å); where the engine's evaluation failed, its exception is
raised again (the model is not asked twice). A structure the engine did not evaluate is
computed by the real model (counted in ``misses``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from bench.batching import MAX_BATCH_ATOMS
from bench.errors import MaterialError
from bench.models.loaded import LoadedModel

#: decimals of Å to which cells and positions are rounded to match a structure
KEY_DECIMALS = 6


class EngineMissError(MaterialError):
    """The engine holds no relaxation of the structure a task asked to relax."""


def structure_key(atoms: Atoms) -> str:
    """A digest of the atomic numbers, the cell and the positions rounded to
    :data:`KEY_DECIMALS` Å (-0 and 0 alike)."""
    digest = hashlib.sha256(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    for array in (atoms.cell.array, atoms.positions):
        digest.update((np.round(np.asarray(array, dtype=float), KEY_DECIMALS) + 0.0).tobytes())
    return digest.hexdigest()


@dataclass
class Replayed:
    """What the engine computed for one material: relaxations by start-structure key
    (a RelaxResult or the exception that ended it), single points by structure key (energy eV,
    forces eV/Å, stress 3×3 eV/Å³, or the exception that ended it), and the counters its
    record reports."""

    relaxations: dict[str, Any] = field(default_factory=dict)
    singles: dict[str, Any] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0
    #: the hits served through the ASE calculator (which bench's model clock counts as calls)
    calculator_hits: int = 0


class ReplayCalculator(Calculator):
    """An ASE calculator that reads a structure's results from :class:`Replayed` (the
    engine's exception raised again), else asks ``inner`` (the model's own calculator)."""

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, inner: Calculator, replayed: Replayed) -> None:
        super().__init__()
        self.inner = inner
        self.replayed = replayed

    def replayed_relaxation(self, atoms: Atoms, settings: Any) -> Any:
        """The engine's relaxation of ``atoms`` (:func:`bench.physics.relax.relax` asks):
        the RelaxResult, or the exception that ended it raised again."""
        found = self.replayed.relaxations.get(structure_key(atoms))
        if found is None:
            raise EngineMissError("the batched engine did not relax this structure")
        if isinstance(found, BaseException):
            raise found
        return found

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = tuple(all_changes),
    ) -> None:
        super().calculate(atoms, properties, system_changes)
        found = self.replayed.singles.get(structure_key(self.atoms))
        if found is None:
            self.replayed.misses += 1
            work = self.atoms.copy()
            work.calc = self.inner
            self.results = {
                "energy": work.get_potential_energy(),
                "free_energy": work.get_potential_energy(),
                "forces": work.get_forces(),
                "stress": work.get_stress(),
            }
            return
        self.replayed.hits += 1
        self.replayed.calculator_hits += 1
        if isinstance(found, BaseException):
            raise found
        self.results = {
            "energy": found["energy"],
            "free_energy": found["energy"],
            "forces": np.array(found["forces"]),
            "stress": full_3x3_to_voigt_6_stress(found["stress"]),
        }


@dataclass
class ReplayModel(LoadedModel):
    """``inner`` (a loaded model) with the engine's results of one material in front:
    build it with :func:`replay_model`."""

    replayed: Replayed = field(default_factory=Replayed)

    def forces(
        self,
        structures: Sequence[Atoms],
        batch: bool = True,
        max_batch_atoms: int = MAX_BATCH_ATOMS,
    ) -> list[np.ndarray]:
        """Forces (eV/Å): the engine's where it evaluated the structure (its exception
        raised again where that failed), else the model's."""
        out: list[np.ndarray | None] = []
        missing = []
        for i, atoms in enumerate(structures):
            found = self.replayed.singles.get(structure_key(atoms))
            if found is None:
                missing.append(i)
                out.append(None)
            else:
                self.replayed.hits += 1
                if isinstance(found, BaseException):
                    raise found
                out.append(np.array(found["forces"]))
        if missing:
            self.replayed.misses += len(missing)
            computed = super().forces([structures[i] for i in missing], batch, max_batch_atoms)
            for i, forces in zip(missing, computed, strict=True):
                out[i] = forces
        return [f for f in out if f is not None]


def replay_model(inner: LoadedModel, replayed: Replayed) -> ReplayModel:
    """``inner`` answering from ``replayed`` first (same key, device, dtype, checkpoint)."""
    return ReplayModel(
        key=inner.key,
        calculator=ReplayCalculator(inner.calculator, replayed),
        device=inner.device,
        dtype=inner.dtype,
        checkpoint=inner.checkpoint,
        batch_forces=inner.batch_forces,
        energy_fn=inner.energy_fn,
        replayed=replayed,
    )
