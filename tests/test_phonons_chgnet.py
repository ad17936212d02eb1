"""CHGNet on real MDR materials: the numbers, not only the shapes.

Expected values were measured with this code (chgnet 0.3.0 weights, float32, CPU); tolerances
cover float32 and thread-count noise. CHGNet is known to soften phonons (Loew et al. 2025):
ωmax of BaTe is ~110 K against 159 K in PBE, which the test also pins.
"""

from __future__ import annotations

import importlib.util

import pytest

from bench.datasets import load_phonon_reference
from bench.models import load_model
from bench.physics.phonons import reference_values, run_phonons
from bench.settings import PhononSettings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("chgnet") is None, reason="chgnet not installed"),
]


@pytest.fixture(scope="module")
def chgnet():
    return load_model("chgnet", device="cpu")


def test_chgnet_bate(shared_data, chgnet):
    ref = load_phonon_reference("mdr-pbe", "mp-1000", shared_data)
    settings = PhononSettings(dtype="float32")
    result = run_phonons(ref, chgnet, settings)
    v = result["values"]
    assert v["omega_max_K"] == pytest.approx(109.69, abs=1.0)
    assert v["S_J_per_K_mol"] == pytest.approx(122.41, abs=0.5)
    assert v["F_kJ_per_mol"] == pytest.approx(-21.67, abs=0.2)
    assert v["Cv_J_per_K_mol"] == pytest.approx(49.60, abs=0.05)
    assert v["stable"]
    assert result["n_displacements"] == 2 and result["n_atoms_supercell"] == 64
    assert result["relax"]["fmax_eV_per_A"] < settings.relax.fmax_eV_per_A
    dft = reference_values(ref, settings)["values"]
    # softer than DFT, as CHGNet is: lower ωmax, higher S, lower F; Cv near Dulong-Petit
    assert v["omega_max_K"] < dft["omega_max_K"] - 30
    assert v["S_J_per_K_mol"] > dft["S_J_per_K_mol"]
    assert abs(v["Cv_J_per_K_mol"] - dft["Cv_J_per_K_mol"]) < 1.0


def test_batched_and_single_displacements_agree(shared_data, chgnet):
    ref = load_phonon_reference("mdr-pbe", "mp-11327", shared_data)
    settings = PhononSettings(dtype="float32")
    batched = run_phonons(ref, chgnet, settings, batch=True)["values"]
    single = run_phonons(ref, chgnet, settings, batch=False)["values"]
    # The batched path's backward pass (no create_graph) rounds differently from the
    # calculator's: 4.5e-6 eV/Å on displacement forces of 0.02 eV/Å here (small sums of large
    # float32 bond terms), 3e-4 of ωmax (results/speed/README.md, "without the training graph")
    for key in ("omega_max_K", "S_J_per_K_mol", "F_kJ_per_mol", "Cv_J_per_K_mol"):
        assert batched[key] == pytest.approx(single[key], rel=1e-3, abs=1e-3)
