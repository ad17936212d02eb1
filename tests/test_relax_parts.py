"""bench's FixSymmetry and FrechetCellFilter give ASE's numbers bit for bit, faster."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.constraints import FixSymmetry
from ase.filters import FrechetCellFilter
from ase.spacegroup import crystal

from bench.physics.relax_parts import FastFixSymmetry, FastFrechetCellFilter


def _cell(symmetric: bool = True):
    """Cu3Au-like cubic cell (several atoms per op map), strained a little and with EMT."""
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True)
    atoms[0].symbol = "Au"
    atoms.calc = EMT()
    if not symmetric:
        atoms.rattle(0.02, seed=1)
    return atoms


#: symmetry groups where an operation's atom map and its inverse give different sums
STRUCTURES = {
    "rutile": lambda: crystal(
        ["Ti", "O"],
        [(0, 0, 0), (0.3, 0.3, 0)],
        spacegroup=136,
        cellpar=[4.6, 4.6, 2.95, 90, 90, 90],
    ),
    "quartz": lambda: crystal(
        ["Si", "O"],
        [(0.47, 0, 0), (0.41, 0.27, 0.12)],
        spacegroup=152,
        cellpar=[4.9, 4.9, 5.4, 90, 90, 120],
    ),
    "Cu3Au 2x2x2": lambda: _cell().repeat(2),
}


@pytest.mark.parametrize("name", list(STRUCTURES))
def test_symmetrisation_equals_ases(name):
    atoms = STRUCTURES[name]()
    ours, ases = FastFixSymmetry(atoms.copy(), symprec=1e-3), FixSymmetry(atoms.copy(), 1e-3)
    assert ours._inverse is not None  # the array path, not ASE's loop
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(atoms), 3))
    a, b = vectors.copy(), vectors.copy()
    ours.adjust_forces(atoms, a)
    ases.adjust_forces(atoms, b)
    assert np.array_equal(a, b) and np.abs(a - vectors).max() > 1e-3  # it did change
    new_a = atoms.positions + 0.01 * vectors
    new_b = new_a.copy()
    ours.adjust_positions(atoms, new_a)
    ases.adjust_positions(atoms, new_b)
    assert np.array_equal(new_a, new_b)
    stress_a = rng.normal(size=6)
    stress_b = stress_a.copy()
    ours.adjust_stress(atoms, stress_a)
    ases.adjust_stress(atoms, stress_b)
    assert np.array_equal(stress_a, stress_b)
    cell_a = atoms.cell[:] @ (np.eye(3) + 0.01 * rng.normal(size=(3, 3)))
    cell_b = cell_a.copy()
    ours.adjust_cell(atoms, cell_a)
    ases.adjust_cell(atoms, cell_b)
    assert np.array_equal(cell_a, cell_b)


def test_a_copy_shares_the_operations():
    ours = FastFixSymmetry(_cell(), symprec=1e-3)
    copied = copy.deepcopy(ours)
    assert copied is not ours and copied.symm_map is ours.symm_map


def test_cell_filter_forces_equal_ases_and_are_computed_once():
    atoms = _cell(symmetric=False)
    atoms.set_cell(atoms.cell[:] @ np.array([[1.02, 0.01, 0], [0, 0.99, 0.02], [0, 0, 1.01]]))
    ours, ases = FastFrechetCellFilter(atoms), FrechetCellFilter(atoms)
    moved = ours.get_positions()  # the last three rows: log of the deformation x atoms
    moved[-3:] += np.random.default_rng(2).normal(scale=0.03 * len(atoms), size=(3, 3))
    ours.set_positions(moved)  # a deformed cell with a log that is not symmetric
    ases.set_positions(ours.get_positions())
    want = ases.get_forces()
    got = ours.get_forces()
    assert np.array_equal(got, want) and np.abs(want[-3:]).max() > 1e-3
    assert np.array_equal(ours.stress, ases.stress)
    calls = []
    ours.atoms.calc.get_forces = lambda *a, **k: calls.append(1)  # a second call: kept
    assert np.array_equal(ours.get_forces(), got) and calls == []
    got[0] += 1.0  # a caller changing what it got does not change what is kept
    assert not np.array_equal(ours.get_forces(), got)
