"""CHGNet (chgnet package). Weights of 0.3.0 ship in the wheel; float32 only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ase import Atoms

from bench.models.loaded import DifferentiableEnergy, LoadedModel
from bench.models.protocol import require_dtype
from bench.models.spec import ModelSpec


def packaged_checkpoint(spec: ModelSpec) -> Path | None:
    import importlib.util

    found = importlib.util.find_spec("chgnet")
    if found is None or found.origin is None or spec.checkpoint is None:
        return None
    version = spec.key.removeprefix("chgnet-")
    path = Path(found.origin).parent / "pretrained" / version / spec.checkpoint
    return path if path.is_file() else None


def load(spec: ModelSpec, *, device: str, dtype: str, checkpoint: Path | None) -> LoadedModel:
    require_dtype(spec, dtype, ("float32",))  # the package computes in float32
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
        energy_fn=lambda atoms: differentiable_energy(model, atoms, device),
    )


def differentiable_energy(model, atoms: Atoms, device: str = "cpu") -> DifferentiableEnergy:
    """CHGNet's total energy (eV) as a torch function of Cartesian positions and cell.

    The crystal graph (neighbours, periodic images, angles) is built once at ``atoms``; the
    function feeds ``positions @ cell⁻¹`` as fractional coordinates and ``cell`` as the
    lattice, so CHGNet's own ``frac @ lattice`` gives back ``positions`` and every bond vector
    follows both arguments. Base point: the graph's (wrapped) positions. float32, as CHGNet.
    """
    import copy
    import warnings

    import torch
    from pymatgen.io.ase import AseAtomsAdaptor

    graph = model.graph_converter(AseAtomsAdaptor.get_structure(atoms)).to(device)
    n_atoms = len(atoms)

    def energy(positions: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        g = copy.copy(graph)
        g.lattice = cell
        g.atom_frac_coord = positions @ torch.linalg.inv(cell)
        with warnings.catch_warnings():  # CHGNet detaches the cell volume (stress only)
            warnings.simplefilter("ignore", UserWarning)
            e = model([g], task="e")["e"][0]
        return e * n_atoms if model.is_intensive else e

    return DifferentiableEnergy(
        positions=(graph.atom_frac_coord @ graph.lattice).detach(),
        cell=graph.lattice.detach(),
        energy=energy,
    )
