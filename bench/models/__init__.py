"""Model registry and adapters: ``load_model("chgnet")`` returns a ready ASE calculator."""

from bench.models.registry import (
    DifferentiableEnergy,
    LoadedModel,
    ModelSpec,
    checkpoint_status,
    list_models,
    load_model,
    local_checkpoint,
    model_rows,
    resolve,
    unavailable_reason,
)

__all__ = [
    "DifferentiableEnergy",
    "LoadedModel",
    "ModelSpec",
    "checkpoint_status",
    "list_models",
    "load_model",
    "local_checkpoint",
    "model_rows",
    "resolve",
    "unavailable_reason",
]
