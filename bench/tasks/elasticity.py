"""Elasticity (Table 2): bulk and shear moduli (VRH, GPa) from matcalc's strain fit.

Protocol ``matcalc``: matcalc 0.7.0 ``ElasticityBenchmark.get_prop_calc`` (the defaults of
:class:`bench.physics.elasticity.ElasticSettings`)."""

from __future__ import annotations

from typing import Any

from bench.models import LoadedModel
from bench.physics.elasticity import ElasticSettings
from bench.tasks.base import (
    EngineStages,
    Material,
    Property,
    Task,
    TaskOutput,
    failing_with,
)


def evaluate(
    model: LoadedModel, material: Material, settings: ElasticSettings, batch: bool = True
) -> TaskOutput:
    """K_VRH, G_VRH (GPa) of the model and the DFT reference."""
    from bench.datasets import load_elastic_reference
    from bench.physics.elasticity import run_elasticity

    ref = load_elastic_reference(*material.where)
    refs = {"K_GPa": ref.bulk_modulus_GPa, "G_GPa": ref.shear_modulus_GPa}
    details = {"source": {"file": ref.source, "sha256": ref.sha256}}
    with failing_with(refs, details):
        result = run_elasticity(ref.structure, model, settings)
    return {"ref": refs, **result, "details": {**details, **result["details"]}}


def _start(material: Material, settings: ElasticSettings) -> tuple[Any, Any]:
    """The structure the model relaxes (no context)."""
    from bench.datasets import load_elastic_reference

    return load_elastic_reference(*material.where).structure, None


def _follow(relaxed: Any, context: Any, settings: ElasticSettings) -> list[Any]:
    """The strained cells and the relaxed one (the equilibrium stress)."""
    from bench.physics.elasticity import strained_structures

    return strained_structures(relaxed, settings)


TASK = Task(
    name="elasticity",
    stress_use="it fits the stress of strained cells and relaxes the cell first",
    settings_cls=ElasticSettings,
    protocols={"matcalc": ElasticSettings()},
    props=(
        Property("K_GPa", "K [GPa]", "K_bulk_GPa", tolerance_floor=0.3),
        Property("G_GPa", "G [GPa]", "G_shear_GPa", tolerance_floor=0.3),
    ),
    evaluate=evaluate,
    default_subset="elastic-smoke",
    table2=True,
    # Born stability of the model's tensor (MatCalc keeps such materials in its MAE)
    flags={"model.positive_definite": "n_not_pd"},
    flag_labels={"n_not_pd": "not PD"},
    subset_option="elastic-subset",
    paper_dataset="mp-binary-pbe-elasticity-2025.1",
    report_subsets={"full": "elastic-full", "dev": "elastic-dev", "smoke": "elastic-smoke"},
    stages=EngineStages(start=_start, follow=_follow),
)
