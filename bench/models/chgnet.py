"""CHGNet (chgnet package). Weights of 0.3.0 ship in the wheel; float32 only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from bench.models.registry import LoadedModel, ModelSpec


def packaged_checkpoint(spec: ModelSpec) -> Path | None:
    import importlib.util

    found = importlib.util.find_spec("chgnet")
    if found is None or found.origin is None or spec.checkpoint is None:
        return None
    version = spec.key.removeprefix("chgnet-")
    path = Path(found.origin).parent / "pretrained" / version / spec.checkpoint
    return path if path.is_file() else None


def load(spec: ModelSpec, *, device: str, dtype: str, checkpoint: Path | None) -> LoadedModel:
    from chgnet.model.dynamics import CHGNetCalculator
    from chgnet.model.model import CHGNet

    path = checkpoint or packaged_checkpoint(spec)
    if path is not None:
        model = CHGNet.from_file(str(path), verbose=False)
    else:  # upstream resolution (downloads newer releases when online)
        model = CHGNet.load(model_name=spec.key.removeprefix("chgnet-"), verbose=False)
    model = model.to(device)
    calc = CHGNetCalculator(model=model, use_device=device, on_isolated_atoms="ignore")

    def batch_forces(structures: Sequence[Atoms]) -> list[np.ndarray]:
        from pymatgen.io.ase import AseAtomsAdaptor

        pmg = [AseAtomsAdaptor.get_structure(a) for a in structures]
        preds = model.predict_structure(pmg, task="ef", batch_size=len(pmg))
        if isinstance(preds, dict):  # CHGNet unwraps a batch of one
            preds = [preds]
        return [np.asarray(p["f"], dtype=float) for p in preds]

    return LoadedModel(
        key=spec.key,
        calculator=calc,
        device=device,
        dtype=dtype,
        checkpoint=str(path) if path else None,
        batch_forces=batch_forces,
    )
