"""eSEN (fairchem-core), run in its own environment (fairchem pins its own torch)."""

from __future__ import annotations

from pathlib import Path

from bench.errors import ModelUnavailableError
from bench.models.loaded import LoadedModel
from bench.models.protocol import require_dtype
from bench.models.spec import ModelSpec


def packaged_checkpoint(spec: ModelSpec) -> Path | None:
    return None  # gated on Hugging Face: always a user-provided file


def load(spec: ModelSpec, *, device: str, dtype: str, checkpoint: Path | None) -> LoadedModel:
    require_dtype(spec, dtype, ("float32",))  # the model's weights and graph are float32
    from fairchem.core import OCPCalculator

    if checkpoint is None:
        raise ModelUnavailableError(
            f"{spec.key}: checkpoint {spec.checkpoint} is gated ({spec.source}); download it "
            "and pass --checkpoint PATH or put it in $BENCH_CHECKPOINTS"
        )
    calc = OCPCalculator(checkpoint_path=str(checkpoint), cpu=device == "cpu", seed=0)
    return LoadedModel(
        key=spec.key, calculator=calc, device=device, dtype=dtype, checkpoint=str(checkpoint)
    )
