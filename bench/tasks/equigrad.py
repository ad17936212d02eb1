"""Equigrad: how far a model's energy is from rotational invariance (‖Δrot‖, Orb-v3 paper),
on the reference structures as given. No DFT reference: summaries give distributions."""

from __future__ import annotations

from bench.models import LoadedModel
from bench.physics.equigrad import EquigradSettings
from bench.tasks.base import Material, Property, Task, TaskOutput, failing_with


def evaluate(
    model: LoadedModel, material: Material, settings: EquigradSettings, batch: bool = True
) -> TaskOutput:
    """‖Δrot‖ (eV) and the equivariance errors of the unrelaxed reference structure."""
    from bench.datasets import load_structure
    from bench.physics.equigrad import run_equigrad

    structure, source, sha256 = load_structure(
        material.dataset, material.material_id, material.data_dir
    )
    details = {"source": {"file": source, "sha256": sha256}}
    with failing_with({}, details):
        result = run_equigrad(structure, model, settings)
    return {"ref": {}, **result, "details": {**details, **result["details"]}}


TASK = Task(
    name="equigrad",
    settings_cls=EquigradSettings,
    protocols={"orb-v3": EquigradSettings()},
    props=(
        Property("delta_rot_eV", "‖Δrot‖ [eV]"),
        Property("delta_rot_eV_per_atom", "‖Δrot‖/N [eV/atom]"),
        Property("rotation_dE_eV_per_atom", "ΔE under a random R, per atom [eV]"),
        Property("force_equiv_max_eV_per_A", "max ‖F(rR) − F(r)R‖ [eV/Å]"),
        Property("force_equiv_rms_eV_per_A", "rms ‖F(rR) − F(r)R‖ [eV/Å]"),
    ),
    evaluate=evaluate,
    default_subset="mdr-smoke",
    has_reference=False,
    distribution_note="Reference structures unrelaxed. No DFT reference: an invariant model "
    "gives 0. Δrot = ∂E(rR, hR)/∂G at G = 0 with R = exp(G − Gᵀ) (Frobenius norm, eV); method "
    "autograd (the adapter's differentiable energy) or fd (central differences over the three "
    "so(3) generators).",
    subset_option="equigrad-subset",
    structure_only=True,
)
