"""MACE foundation models (mace-torch), run in their own environment (e3nn==0.4.4)."""

from __future__ import annotations

from pathlib import Path

from bench.models.registry import LoadedModel, ModelSpec

_UPSTREAM = {"mace-mpa-0": ("mace_mp", "medium-mpa-0"), "mace-omat-0": ("mace_omat", "medium")}


def packaged_checkpoint(spec: ModelSpec) -> Path | None:
    """mace-torch caches foundation models under ~/.cache/mace."""
    if spec.checkpoint is None:
        return None
    path = Path("~/.cache/mace").expanduser() / spec.checkpoint
    return path if path.is_file() else None


def load(spec: ModelSpec, *, device: str, dtype: str, checkpoint: Path | None) -> LoadedModel:
    from mace.calculators import MACECalculator, foundations_models

    path = checkpoint or packaged_checkpoint(spec)
    if path is not None:
        calc = MACECalculator(model_paths=str(path), device=device, default_dtype=dtype)
    else:
        constructor, model = _UPSTREAM[spec.key]
        calc = getattr(foundations_models, constructor)(
            model=model, device=device, default_dtype=dtype
        )
    return LoadedModel(
        key=spec.key,
        calculator=calc,
        device=device,
        dtype=dtype,
        checkpoint=str(path) if path else None,
    )
