"""ASE's effective-medium theory: an analytic potential for fast tests (not an MLIP)."""

from __future__ import annotations

from pathlib import Path

from bench.models.loaded import LoadedModel
from bench.models.protocol import require_dtype
from bench.models.spec import ModelSpec


def packaged_checkpoint(spec: ModelSpec) -> Path | None:
    return None


def load(spec: ModelSpec, *, device: str, dtype: str, checkpoint: Path | None) -> LoadedModel:
    require_dtype(spec, dtype, ("float64",))  # an analytic potential in numpy float64
    from ase.calculators.emt import EMT

    return LoadedModel(key=spec.key, calculator=EMT(), device="cpu", dtype="float64")
