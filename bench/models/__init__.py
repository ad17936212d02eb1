"""Model registry and adapters: ``load_model("chgnet")`` returns a ready ASE calculator."""

from bench.models.loaded import DifferentiableEnergy, LoadedModel
from bench.models.registry import (
    ModelSpec,
    list_models,
    load_model,
    local_checkpoint,
    resolve,
    unavailable_reason,
)
from bench.models.status import checkpoint_status, model_rows

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
