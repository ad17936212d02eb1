"""A synthetic phonon reference for tests: EMT copper, phonopy on EMT's own forces."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from phonopy import Phonopy

from bench.datasets.reference import PhononReference
from bench.physics.phonons import to_ase_atoms, to_phonopy_atoms

F_CENTRING = np.array([[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


def emt_cu_reference(unit: Atoms, given: Atoms, dataset: str) -> PhononReference:
    """Reference force constants of fcc Cu ``unit`` (2×2×2 conventional supercell, 0.01 Å
    displacements, EMT forces); ``given`` is the unit cell the model starts from."""
    ph = Phonopy(
        to_phonopy_atoms(unit), supercell_matrix=np.eye(3) * 2, primitive_matrix=F_CENTRING
    )
    ph.generate_displacements(distance=0.01, is_diagonal=False)
    forces = []
    for sc in ph.supercells_with_displacements:
        atoms = to_ase_atoms(sc)
        atoms.calc = EMT()
        forces.append(atoms.get_forces())
    ph.forces = np.array(forces)
    ph.produce_force_constants()
    return PhononReference(
        material_id="emt-cu",
        dataset=dataset,
        unit_cell=given,
        supercell_matrix=np.eye(3, dtype=int) * 2,
        primitive_matrix=F_CENTRING,
        phonopy=ph,
        stored={},
        source="synthetic",
        sha256="",
    )


def cu_reference(strain: float = 1.02) -> PhononReference:
    """EMT copper: phonopy reference at a = 3.5898 Å, the unit cell strained by ``strain``."""
    unit = bulk("Cu", "fcc", a=3.5898, cubic=True)
    return emt_cu_reference(unit, bulk("Cu", "fcc", a=3.5898 * strain, cubic=True), "mdr-pbe")
