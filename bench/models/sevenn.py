"""SevenNet (sevenn package). 7net-0, -l3i5 and -mf-0 ship in the wheel; others download."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from bench.models.loaded import LoadedModel
from bench.models.protocol import require_dtype
from bench.models.spec import ModelSpec


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
    require_dtype(spec, dtype, ("float32",))  # the package computes in float32
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
        batch_forces=_batcher(calc),
    )


def _batcher(calc: Any):
    """Batched forces when the calculator holds a trainable ``AtomGraphSequential`` (not a
    TorchScript deployment, whose batch mode is frozen)."""
    from sevenn.nn.sequential import AtomGraphSequential

    if not isinstance(calc.model, AtomGraphSequential):
        return None
    return lambda structures: batch_forces(calc, structures)


def batch_forces(calc: Any, structures: Sequence[Atoms]) -> list[np.ndarray]:
    """Forces (eV/Å) on several structures in one model call, as ``sevenn inference`` does:
    graphs built as ``SevenNetCalculator.calculate`` builds them, joined by torch_geometric,
    the model switched to batch mode for the call only."""
    import sevenn._keys as KEY
    from sevenn.atom_graph_data import AtomGraphData
    from sevenn.train.dataload import unlabeled_atoms_to_graph
    from torch_geometric.data import Batch

    graphs = []
    for atoms in structures:
        data = AtomGraphData.from_numpy_dict(
            unlabeled_atoms_to_graph(atoms, calc.cutoff, with_shift=False)
        )
        if calc.modal:
            data[KEY.DATA_MODALITY] = calc.modal
        graphs.append(data)
    batch = Batch.from_data_list(graphs).to(calc.device)
    calc.model.set_is_batch_data(True)
    try:
        output = calc.model(batch)
    finally:
        calc.model.set_is_batch_data(False)
    forces = output[KEY.PRED_FORCE].detach().cpu().numpy().astype(float)
    return np.split(forces, np.cumsum([len(a) for a in structures])[:-1])
