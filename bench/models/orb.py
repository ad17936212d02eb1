"""Orb-v3 (orb-models). Weights come from orb-models' pretrained registry or a local file."""

from __future__ import annotations

from pathlib import Path

from bench.models.registry import LoadedModel, ModelSpec


def packaged_checkpoint(spec: ModelSpec) -> Path | None:
    """orb-models caches downloads under ~/.cache/orb; nothing ships in the wheel."""
    if spec.checkpoint is None:
        return None
    path = Path("~/.cache/orb").expanduser() / spec.checkpoint
    return path if path.is_file() else None


def load(spec: ModelSpec, *, device: str, dtype: str, checkpoint: Path | None) -> LoadedModel:
    from orb_models.forcefield import pretrained
    from orb_models.forcefield.calculator import ORBCalculator

    constructor = pretrained.ORB_PRETRAINED_MODELS[spec.key]
    path = checkpoint or packaged_checkpoint(spec)
    # compile=False: torch.compile is slow to start and unsupported for CPU inference here.
    orbff = constructor(
        weights_path=str(path) if path else None,
        device=device,
        precision=dtype,
        compile=False,
    )
    calc = ORBCalculator(orbff, device=device)
    return LoadedModel(
        key=spec.key,
        calculator=calc,
        device=device,
        dtype=dtype,
        checkpoint=str(path) if path else None,
    )
