"""Relaxation protocol on EMT: converges, keeps symmetry, fails loudly."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.spacegroup.symmetrize import check_symmetry

from bench.errors import DivergedError, NonFiniteError, NotConvergedError
from bench.physics.relax import relax
from bench.settings import RelaxSettings
from tests.conftest import BrokenCalculator

A0_EMT_CU = 3.5898  # EMT equilibrium fcc Cu lattice constant (Å)


def test_relax_recovers_emt_lattice_and_symmetry():
    atoms = bulk("Cu", "fcc", a=3.70, cubic=True)
    result = relax(atoms, EMT(), RelaxSettings())
    a = np.cbrt(result.atoms.get_volume())
    assert a == pytest.approx(A0_EMT_CU, abs=2e-3)
    assert result.fmax_eV_per_A < RelaxSettings().fmax_eV_per_A
    assert check_symmetry(result.atoms, 1e-4).number == 225
    assert result.volume_change < 0
    assert result.atoms.calc is None and not result.atoms.constraints


def test_relax_not_converged_is_reported():
    atoms = bulk("Cu", "fcc", a=3.9, cubic=True)
    settings = RelaxSettings(steps_per_pass=2, max_passes=1)
    with pytest.raises(NotConvergedError, match="max force"):
        relax(atoms, EMT(), settings)


def test_relax_nan_model():
    with pytest.raises(NonFiniteError):
        relax(bulk("Cu", "fcc", a=3.6), BrokenCalculator("nan"), RelaxSettings())


def test_relax_exploding_model():
    with pytest.raises(DivergedError, match="eV/Å"):
        relax(bulk("Cu", "fcc", a=3.6), BrokenCalculator("explode"), RelaxSettings())
