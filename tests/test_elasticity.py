"""Elastic pipeline: EMT copper against matcalc called directly; failures are records."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from bench.errors import NonFiniteError, NotConvergedError
from bench.models import load_model
from bench.models.loaded import LoadedModel
from bench.physics.elasticity import ElasticSettings, run_elasticity
from bench.tasks import Material, run_one
from tests.conftest import BrokenCalculator, ScaledEMT


@pytest.fixture(scope="module")
def emt_cu():
    return run_elasticity(bulk("Cu", "fcc", a=3.5898), load_model("emt"), ElasticSettings())


def test_emt_copper_moduli(emt_cu):
    v = emt_cu["values"]
    # EMT Cu: C11 172.5, C12 115.5, C44 98.3 GPa -> K = (C11 + 2 C12)/3 = 134.5 GPa
    tensor = np.array(emt_cu["details"]["elastic_tensor_GPa"])
    assert tensor[0, 0] == pytest.approx(172.5, abs=1.0)
    assert tensor[0, 1] == pytest.approx(115.5, abs=1.0)
    assert tensor[3, 3] == pytest.approx(98.3, abs=1.0)
    assert v["K_GPa"] == pytest.approx((tensor[0, 0] + 2 * tensor[0, 1]) / 3, rel=1e-3)
    assert v["K_GPa"] == pytest.approx(134.5, abs=1.0)
    assert v["G_GPa"] == pytest.approx(60.0, abs=1.0)


def test_matches_matcalc_directly():
    """Our wrapper passes the settings through: same numbers as ElasticityCalc with them."""
    from matcalc import ElasticityCalc

    direct = ElasticityCalc(
        EMT(),
        fmax=0.05,
        relax_structure=True,
        units_GPa=True,
        norm_strains=(-0.01, -0.005, 0.005, 0.01),
        shear_strains=(-0.06, -0.03, 0.03, 0.06),
        use_equilibrium=True,
        relax_calc_kwargs={"optimizer": "FIRE", "max_steps": 500},
    )
    out = direct.calc(bulk("Cu", "fcc", a=3.62))
    ours = run_elasticity(bulk("Cu", "fcc", a=3.62), load_model("emt"), ElasticSettings())
    assert ours["details"]["relax"]["steps"] > 0  # started 0.8 % expanded
    assert ours["values"]["K_GPa"] == pytest.approx(out["bulk_modulus_vrh"], abs=0.5)
    assert ours["values"]["G_GPa"] == pytest.approx(out["shear_modulus_vrh"], abs=0.5)


def test_units_are_gpa_not_ev_per_a3():
    """A model with every stress halved halves the moduli: the fit uses the model's stress."""
    half = LoadedModel(key="half", calculator=ScaledEMT(0.5), device="cpu", dtype="float64")
    out = run_elasticity(bulk("Cu", "fcc", a=3.59), half, ElasticSettings())
    assert out["values"]["K_GPa"] == pytest.approx(134.5 / 2, abs=1.0)


def test_tensor_not_positive_definite_is_a_flag_as_matcalc_counts_it():
    """MatCalc's benchmark keeps every finite K, G; a tensor that is not positive definite is
    an ok result with the flag False (and the table counts it), not a failure."""
    negative = LoadedModel(key="neg", calculator=ScaledEMT(-1.0), device="cpu", dtype="float64")
    settings = ElasticSettings(
        relax=replace(
            ElasticSettings().relax, max_passes=1, steps_per_pass=1, accept_fmax_eV_per_A=1e9
        )
    )
    out = run_elasticity(bulk("Cu", "fcc", a=3.59), negative, settings)
    assert out["values"]["positive_definite"] is False
    assert out["values"]["K_GPa"] < 0 and out["details"]["min_eigenvalue_GPa"] < 0
    assert run_elasticity(bulk("Cu", "fcc", a=3.59), load_model("emt"), ElasticSettings())[
        "values"
    ]["positive_definite"]


def test_bad_models_are_recorded(shared_data):
    nan = LoadedModel(key="nan", calculator=BrokenCalculator("nan"), device="cpu", dtype="float64")
    material = Material("mp-binary-pbe-elasticity-2025.1", "mp-2534", shared_data)
    record = run_one("elasticity", nan, material, ElasticSettings())
    assert record["status"] == "failed" and record["error_type"] == "NonFiniteError"
    assert record["ref"] == {"K_GPa": 60.742, "G_GPa": 40.715}
    with pytest.raises(NonFiniteError):
        run_elasticity(bulk("Cu", "fcc", a=3.6), nan, ElasticSettings())


def test_unconverged_relaxation_is_not_converged(shared_data):
    settings = ElasticSettings(
        relax=replace(ElasticSettings().relax, steps_per_pass=1, fmax_eV_per_A=1e-9)
    )
    atoms = bulk("Cu", "fcc", a=3.7, cubic=True)
    atoms.rattle(0.05, seed=1)  # atomic forces: elasticity accepts on them, not on the cell
    with pytest.raises(NotConvergedError):
        run_elasticity(atoms, load_model("emt"), settings)
