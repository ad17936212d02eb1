"""MACE foundation models (mace-torch), run in their own environment (e3nn==0.4.4)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from bench.models.loaded import LoadedModel
from bench.models.spec import ModelSpec

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
        batch_forces=None if calc.use_compile else lambda s: batch_forces(calc, s),
    )


def batch_forces(calc: Any, structures: Sequence[Atoms]) -> list[np.ndarray]:
    """Forces (eV/Å) on several structures in one call per ensemble member, graphs built as
    ``MACECalculator`` builds them (same key specification, head, z table and cutoff),
    joined by torch_geometric; ensemble members averaged as the calculator does."""
    import torch
    from mace import data as mace_data
    from mace.tools import torch_geometric, torch_tools

    keyspec = mace_data.KeySpecification(info_keys=calc.info_keys, arrays_keys=calc.arrays_keys)
    with torch_tools.default_dtype(calc.default_dtype):
        graphs = [
            mace_data.AtomicData.from_config(
                mace_data.config_from_atoms(atoms, key_specification=keyspec, head_name=calc.head),
                z_table=calc.z_table,
                cutoff=calc.r_max,
                heads=calc.available_heads,
            )
            for atoms in structures
        ]
    batch = torch_geometric.Batch.from_data_list(graphs).to(calc.device)
    members = []
    for model in calc.models:
        dtype = next(model.parameters()).dtype
        inputs = batch.clone()
        for key in inputs.keys:
            value = inputs[key]
            if torch.is_tensor(value) and torch.is_floating_point(value):
                inputs[key] = value.to(dtype=dtype)
        out = model(inputs.to_dict(), compute_stress=False, training=False)
        members.append(out["forces"].detach())
    scale = calc.energy_units_to_eV / calc.length_units_to_A
    forces = (torch.stack(members).mean(0) * scale).cpu().numpy().astype(float)
    return np.split(forces, np.cumsum([len(a) for a in structures])[:-1])
