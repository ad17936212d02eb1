"""Model registry and adapters: ``load_model("chgnet")`` returns a ready ASE calculator."""

from bench.models.registry import (
    LoadedModel,
    ModelSpec,
    list_models,
    load_model,
    model_rows,
    resolve,
    unavailable_reason,
)

__all__ = [
    "LoadedModel",
    "ModelSpec",
    "list_models",
    "load_model",
    "model_rows",
    "resolve",
    "unavailable_reason",
]
