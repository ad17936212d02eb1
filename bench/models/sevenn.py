"""SevenNet (sevenn package). 7net-0, -l3i5 and -mf-0 ship in the wheel; others download."""

from __future__ import annotations

import os
from pathlib import Path

from bench.models.registry import LoadedModel, ModelSpec


def packaged_checkpoint(spec: ModelSpec) -> Path | None:
    """The wheel's copy or sevenn's download cache (~/.cache/sevennet), without downloading."""
    import importlib.util

    found = importlib.util.find_spec("sevenn")
    if found is None or found.origin is None or spec.checkpoint is None:
        return None
    root = Path(found.origin).parent / "pretrained_potentials"
    cache = Path(os.path.expanduser("~/.cache/sevennet"))
    for base in (root, cache):
        for path in base.glob(f"*/{spec.checkpoint}"):
            return path
    return None


def load(spec: ModelSpec, *, device: str, dtype: str, checkpoint: Path | None) -> LoadedModel:
    from sevenn.calculator import SevenNetCalculator

    path = checkpoint or packaged_checkpoint(spec)
    model = str(path) if path is not None else spec.options["pretrained"]  # else sevenn fetches
    kwargs = {"modal": spec.options["modal"]} if "modal" in spec.options else {}
    calc = SevenNetCalculator(model, device=device, **kwargs)
    return LoadedModel(
        key=spec.key,
        calculator=calc,
        device=device,
        dtype=dtype,
        checkpoint=str(path) if path else None,
    )
