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
        return forces(model, structures, device)

    return LoadedModel(
        key=spec.key,
        calculator=calc,
        device=device,
        dtype=dtype,
        checkpoint=str(path) if path else None,
        batch_forces=batch_forces,
        energy_fn=lambda atoms: differentiable_energy(model, atoms, device),
    )


def forces(model, structures: Sequence[Atoms], device: str = "cpu") -> list[np.ndarray]:
    """Forces (eV/Å) on ``structures``, one batched CHGNet forward and one backward pass.

    CHGNet's own ``task="ef"`` differentiates with ``create_graph=True`` (kept for training
    on forces), which on inference more than doubles the peak memory and adds a quarter to
    the time (results/speed/README.md, "CHGNet forces without the training graph"). Here
    the energy comes from CHGNet's public ``forward(task="e")`` and its gradient w.r.t. the
    graphs' leaf fractional coordinates (CHGNet's positions are ``frac @ lattice``) is
    mapped to Cartesian forces: ``F = -(∂E/∂frac) @ lattice⁻ᵀ``, in float64.
    """
    import warnings

    import torch
    from pymatgen.io.ase import AseAtomsAdaptor

    model.eval()
    graphs = [
        model.graph_converter(AseAtomsAdaptor.get_structure(a)).to(device) for a in structures
    ]
    with warnings.catch_warnings():  # CHGNet detaches the cell volume (stress only)
        warnings.simplefilter("ignore", UserWarning)
        pred = model(graphs, task="e")
    n_atoms = torch.tensor([len(a) for a in structures], dtype=pred["e"].dtype, device=device)
    total = pred["e"] * n_atoms if model.is_intensive else pred["e"]
    d_frac = torch.autograd.grad(total.sum(), [g.atom_frac_coord for g in graphs])
    out = []
    for grad, graph in zip(d_frac, graphs, strict=True):
        lattice = graph.lattice.detach().cpu().numpy().astype(float)
        out.append(-np.linalg.solve(lattice, grad.detach().cpu().numpy().astype(float).T).T)
    return out


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
