"""Orb-v3 (orb-models). Weights come from orb-models' pretrained registry or a local file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from bench.models.loaded import DifferentiableEnergy, LoadedModel
from bench.models.spec import ModelSpec


def packaged_checkpoint(spec: ModelSpec) -> Path | None:
    """orb-models caches downloads under ~/.cache/orb; nothing ships in the wheel."""
    if spec.checkpoint is None:
        return None
    path = Path("~/.cache/orb").expanduser() / spec.checkpoint
    return path if path.is_file() else None


def load(spec: ModelSpec, *, device: str, dtype: str, checkpoint: Path | None) -> LoadedModel:
    from orb_models.forcefield import pretrained

    constructor = pretrained.ORB_PRETRAINED_MODELS[spec.key]
    path = checkpoint or packaged_checkpoint(spec)
    # compile=False: torch.compile is slow to start and unsupported for CPU inference here.
    # no local file: the constructor's default weights_path is the upstream URL (cached_path
    # downloads it into ~/.cache/orb)
    weights = {"weights_path": str(path)} if path else {}
    orbff = constructor(device=device, precision=dtype, compile=False, **weights)
    return wrap(orbff, spec.key, device=device, dtype=dtype, checkpoint=path)


def wrap(
    regressor: Any, key: str, *, device: str, dtype: str, checkpoint: Path | None = None
) -> LoadedModel:
    """A LoadedModel around an orb-models regressor (direct or conservative), with its
    differentiable energy; also used for random-weight models in tests."""
    from orb_models.forcefield.calculator import ORBCalculator

    calc = ORBCalculator(regressor, device=device)
    return LoadedModel(
        key=key,
        calculator=calc,
        device=device,
        dtype=dtype,
        checkpoint=str(checkpoint) if checkpoint else None,
        batch_forces=lambda structures: batch_forces(calc, structures),
        energy_fn=lambda atoms: differentiable_energy(regressor, atoms, device),
    )


def batch_forces(calc: Any, structures: Sequence[Atoms]) -> list[np.ndarray]:
    """Forces (eV/Å) on several structures in one model call: each graph is built exactly as
    ``ORBCalculator.calculate`` builds it, then orb-models' ``batch_graphs`` joins them."""
    from orb_models.forcefield.atomic_system import ase_atoms_to_atom_graphs
    from orb_models.forcefield.base import batch_graphs

    graphs = [
        ase_atoms_to_atom_graphs(
            atoms,
            system_config=calc.system_config,
            max_num_neighbors=calc.max_num_neighbors,
            edge_method=calc.edge_method,
            half_supercell=calc.half_supercell,
            device=calc.device,
        )
        for atoms in structures
    ]
    out = calc.model.predict(batch_graphs(graphs).to(calc.device))
    name = calc.model.grad_forces_name if calc.conservative else "forces"
    forces = out[name].detach().cpu().numpy().astype(float)
    return np.split(forces, np.cumsum([len(a) for a in structures])[:-1])


def differentiable_energy(
    regressor: Any, atoms: Atoms, device: str = "cpu"
) -> DifferentiableEnergy:
    """Orb's total energy (eV, energy head + ZBL pair repulsion) as a torch function of
    Cartesian positions and cell.

    The graph (senders, receivers, integer cell shifts) is built once at ``atoms`` exactly as
    ``ORBCalculator`` builds it (positions wrapped into the cell); the edge vectors are then
    ``r[receiver] − r[sender] + shift @ cell``, as orb-models' own
    ``compute_differentiable_edge_vectors``, so both arguments reach every feature. Works for
    direct and conservative regressors (the conservative force/stress heads are not used).
    """
    import torch
    from orb_models.forcefield.atomic_system import ase_atoms_to_atom_graphs

    dtype = next(regressor.parameters()).dtype
    batch = ase_atoms_to_atom_graphs(
        atoms,
        system_config=regressor.system_config,
        device=torch.device(device),
        output_dtype=dtype,
        graph_construction_dtype=dtype,
    )
    shifts = batch.edge_features["unit_shifts"]

    def energy(positions: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
        vectors = positions[batch.receivers] - positions[batch.senders] + shifts @ cell
        graph = batch._replace(
            node_features={**batch.node_features, "positions": positions},
            edge_features={**batch.edge_features, "vectors": vectors},
            system_features={**batch.system_features, "cell": cell.unsqueeze(0)},
        )
        out = regressor.model(graph)
        total = regressor.heads["energy"].predict(out["node_features"], graph)
        if regressor.pair_repulsion:
            total = total + regressor.pair_repulsion_fn(graph)["energy"]
        return total.sum()

    return DifferentiableEnergy(
        positions=batch.node_features["positions"].detach(),
        cell=batch.system_features["cell"][0].detach(),
        energy=energy,
    )
