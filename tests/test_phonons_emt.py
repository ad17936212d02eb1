"""Phonon pipeline on EMT copper: physics sanity and model-vs-reference consistency.

The "reference" here is built with phonopy directly from EMT forces at the EMT equilibrium, so
running the pipeline with EMT (starting from a strained cell) must reproduce it: this checks
relaxation, displacements, drift removal, force constants, mesh and unit conventions end to end.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT
from ase.units import kB, kJ, mol
from emt_reference import emt_cu_reference

from bench.datasets import PhononReference
from bench.models import LoadedModel, load_model
from bench.physics.phonons import (
    mdr_stable,
    phonon_properties,
    reference_values,
    run_phonons,
    to_ase_atoms,
)
from bench.physics.relax import relax
from bench.settings import PhononSettings, RelaxSettings

A0 = 3.5898  # EMT fcc Cu (Å)
R = kB * mol / kJ * 1000  # J/(K mol)


@pytest.fixture(scope="module")
def cu_reference() -> PhononReference:
    tight = RelaxSettings(fmax_eV_per_A=1e-6, accept_fmax_eV_per_A=1e-5)
    unit = relax(bulk("Cu", "fcc", a=A0, cubic=True), EMT(), tight).atoms
    strained = bulk("Cu", "fcc", a=A0 * 1.02, cubic=True)  # the model must relax it back
    return emt_cu_reference(unit, strained, "test")


@pytest.fixture(scope="module")
def emt_result(cu_reference):
    return run_phonons(cu_reference, load_model("emt"), PhononSettings())


def test_emt_copper_physics(emt_result):
    v = emt_result["values"]
    # one atom per primitive cell: Cv(300 K) just below Dulong-Petit 3R
    assert 0.9 * 3 * R < v["Cv_J_per_K_mol"] < 3 * R
    assert 250 < v["omega_max_K"] < 450  # EMT Cu: ~7 THz
    assert v["stable"]
    assert v["omega_min_K"] == pytest.approx(0.0, abs=1e-3)  # acoustic modes at Γ
    assert emt_result["n_atoms_supercell"] == 32
    assert emt_result["n_displacements"] == 1  # fcc: one symmetry-distinct displacement
    thermal = emt_result["thermal"]
    assert thermal["temperatures_K"] == [0.0, 75.0, 150.0, 300.0, 600.0]
    assert thermal["free_energy_kJ_per_mol"][0] > 0  # F(0 K) is the zero-point energy
    assert thermal["entropy_J_per_K_mol"][0] == pytest.approx(0.0, abs=1e-6)
    assert set(emt_result["timings_s"]) == {"relax", "relax_model", "forces", "phonopy"}


def test_emt_pipeline_reproduces_emt_reference_at_equilibrium(cu_reference):
    """Started at the minimum: forces, drift removal, FC symmetrisation, mesh agree tightly."""
    at_minimum = dataclasses.replace(
        cu_reference, unit_cell=to_ase_atoms(cu_reference.phonopy.unitcell)
    )
    ref = reference_values(at_minimum, PhononSettings())["values"]
    v = run_phonons(at_minimum, load_model("emt"), PhononSettings())["values"]
    assert v["F_kJ_per_mol"] == pytest.approx(ref["F_kJ_per_mol"], abs=3e-4)
    assert v["S_J_per_K_mol"] == pytest.approx(ref["S_J_per_K_mol"], abs=2e-3)
    assert v["Cv_J_per_K_mol"] == pytest.approx(ref["Cv_J_per_K_mol"], abs=5e-4)
    assert v["omega_max_K"] == pytest.approx(ref["omega_max_K"], abs=0.05)


def test_emt_pipeline_relaxes_back_to_the_reference(cu_reference, emt_result):
    """From a 2 % strain: agreement within what the 0.0025 eV/Å relaxation leaves (the cell
    stops ~2e-4 Å from the minimum, which moves F by ~3e-3 kJ/mol via the Grüneisen shift)."""
    ref = reference_values(cu_reference, PhononSettings())["values"]
    v = emt_result["values"]
    a = np.cbrt(cu_reference.phonopy.unitcell.volume)
    a_relaxed = A0 * 1.02 * np.cbrt(1 + emt_result["relax"]["volume_change"])
    assert a_relaxed == pytest.approx(a, abs=5e-4)
    assert v["F_kJ_per_mol"] == pytest.approx(ref["F_kJ_per_mol"], abs=1e-2)
    assert v["S_J_per_K_mol"] == pytest.approx(ref["S_J_per_K_mol"], abs=3e-2)
    assert v["Cv_J_per_K_mol"] == pytest.approx(ref["Cv_J_per_K_mol"], abs=5e-3)
    assert v["omega_max_K"] == pytest.approx(ref["omega_max_K"], abs=0.5)


def test_displacement_setting_matters(cu_reference, emt_result):
    """A wrong displacement unit (0.1 Å) moves the numbers: the settings are not decorative."""
    big = run_phonons(cu_reference, load_model("emt"), PhononSettings(displacement_A=0.1))
    assert abs(big["values"]["omega_max_K"] - emt_result["values"]["omega_max_K"]) > 0.5


def test_stability_flag_follows_mdr():
    """postprocess.py: Γ acoustic down to −35 K tolerated; any other negative mode is not."""
    gamma_ok = [-20.0, -1.0, 0.0, 50.0, 60.0, 70.0]
    stable_other = [[10.0, 20.0, 30.0, 40.0, 50.0, 60.0]]
    assert mdr_stable(np.array([gamma_ok, *stable_other]))
    assert not mdr_stable(np.array([[-36.0, 0, 0, 50, 60, 70], *stable_other]))
    assert not mdr_stable(np.array([[-3.0, -2, -1, -0.5, 60, 70], *stable_other]))  # 4th Γ mode
    assert not mdr_stable(np.array([gamma_ok, [-1.0, 20, 30, 40, 50, 60]]))  # off Γ


def test_imaginary_modes_flagged_end_to_end(cu_reference):
    ph = cu_reference.phonopy
    fc = ph.force_constants.copy()
    try:
        ph.force_constants = -fc
        out = phonon_properties(ph, PhononSettings())
        assert not out["stable"] and out["omega_min_K"] < -35
    finally:
        ph.force_constants = fc


class DriftingEMT(EMT):
    """EMT plus the same force on every atom: what drift removal must cancel."""

    implemented_properties = ("energy", "forces", "stress")

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results["forces"] = self.results["forces"] + np.array([0.05, -0.02, 0.03])


def test_drift_removal_cancels_a_uniform_force():
    """A model whose forces carry a uniform offset. In fcc Cu the ±u displacements phonopy
    builds by inversion cancel a drift anyway, and FC symmetrisation (translational invariance)
    hides it too; zincblende CuAu has no inversion at its sites, so with symmetrisation off only
    drift removal stands between the offset and the numbers."""
    zincblende = PhononReference(
        material_id="emt-cuau-zb",
        dataset="test",
        unit_cell=bulk("CuAu", "zincblende", a=5.9),
        supercell_matrix=np.eye(3, dtype=int) * 2,
        primitive_matrix=None,
        phonopy=None,
        stored={},
        source="synthetic",
        sha256="",
    )
    plain = dataclasses.replace(PhononSettings(), symmetrize_force_constants=False)
    reference = run_phonons(zincblende, load_model("emt"), plain)["values"]
    drifting = LoadedModel(key="drift", calculator=DriftingEMT(), device="cpu", dtype="float64")
    with_removal = run_phonons(zincblende, drifting, plain)["values"]
    for key in ("omega_max_K", "omega_min_K", "S_J_per_K_mol", "F_kJ_per_mol", "Cv_J_per_K_mol"):
        assert with_removal[key] == pytest.approx(reference[key], abs=1e-6)
    without = run_phonons(zincblende, drifting, dataclasses.replace(plain, remove_drift=False))
    assert abs(without["values"]["S_J_per_K_mol"] - reference["S_J_per_K_mol"]) > 1.0
    assert without["values"]["omega_min_K"] < reference["omega_min_K"] - 50
