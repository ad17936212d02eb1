"""A loaded model as torch-sim sees it: the family's torch-sim wrapper, driven in float64 with
optional symmetrised forces and stress, and the batch budget (atoms on a CPU, torch-sim's
memory estimate on a GPU).

One function per family builds the wrapper from bench's :class:`LoadedModel`
(:data:`ADAPTERS`); a family without one runs with the ``ase`` engine.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from ase import Atoms

from bench.batching import MAX_BATCH_ATOMS
from bench.errors import MaterialError, ModelError
from bench.models.loaded import LoadedModel

#: the safety margin on torch-sim's GPU memory estimate (it measures one forward pass; FIRE
#: keeps a few more per-atom tensors)
GPU_MEMORY_MARGIN = 0.8


def _sevenn(model: LoadedModel) -> Any:
    """torch-sim's SevenNetModel on a copy of the calculator's network (torch-sim switches the
    network it wraps to batch mode for good, which the ASE calculator must not see)."""
    import torch_sim.models.sevennet as wrapper

    _sevenn_names(wrapper)
    SevenNetModel = wrapper.SevenNetModel

    calc = model.calculator
    network = copy.deepcopy(calc.model)
    return SevenNetModel(network, modal=calc.modal or None, device=model.device)


def _sevenn_names(wrapper: Any) -> None:
    """torch-sim 0.3.0's SevenNet module imports ``torch_script_type`` from
    ``sevenn.calculator``, which sevenn 0.13 no longer has; the import stops there and leaves
    ``Collater`` (and that name) undefined. Both are set here as sevenn <= 0.11 defined them."""
    if not hasattr(wrapper, "Collater"):
        from torch_geometric.loader.dataloader import Collater

        wrapper.Collater = Collater
    if not hasattr(wrapper, "torch_script_type"):
        wrapper.torch_script_type = torch.jit.RecursiveScriptModule


#: family -> its torch-sim wrapper from a loaded model (torch-sim-atomistic 0.3.0 also wraps
#: MACE, Orb, fairchem and MatterSim; these run in other environments or have no adapter here)
ADAPTERS: dict[str, Callable[[LoadedModel], Any]] = {"sevenn": _sevenn}


def supports(family: str) -> bool:
    """Whether ``family`` runs with the torch-sim engine."""
    return family in ADAPTERS


def torch_sim_model(model: LoadedModel, family: str) -> Any:
    """The torch-sim model of ``model`` (a family of :data:`ADAPTERS`)."""
    return ADAPTERS[family](model)


class Float64Driver(torch.nn.Module):
    """A torch-sim model for the optimiser, as ASE drives a model: states in float64 (the
    optimiser's positions and cell), the wrapped model called in its own precision, results
    back in float64 (energy eV, forces eV/Å, stress eV/Å³ with ASE's sign).

    ``symmetry`` (one entry per system of the next call, or None): each system's
    ``(rotations, translations, symm_map)`` from :func:`ase.spacegroup.symmetrize.prep_symmetry`;
    its forces and stress are symmetrised as ASE's ``FixSymmetry`` does.
    """

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner
        self.symmetry: list[Any] | None = None

    @property
    def device(self) -> torch.device:
        return self.inner.device

    @property
    def dtype(self) -> torch.dtype:
        return torch.float64

    @property
    def compute_stress(self) -> bool:
        return True

    @property
    def compute_forces(self) -> bool:
        return True

    @property
    def memory_scales_with(self) -> str:
        return self.inner.memory_scales_with

    def forward(self, state: Any) -> dict[str, torch.Tensor]:
        low = state.clone()
        low.positions = low.positions.to(self.inner.dtype)
        low.cell = low.cell.to(self.inner.dtype)
        low.masses = low.masses.to(self.inner.dtype)
        out = {k: v.to(torch.float64) for k, v in self.inner(low).items()}
        if self.symmetry is not None:
            self._symmetrise(state, out)
        return out

    def _symmetrise(self, state: Any, out: dict[str, torch.Tensor]) -> None:
        from ase.spacegroup.symmetrize import symmetrize_rank1, symmetrize_rank2

        cells = state.row_vector_cell.detach().cpu().numpy()
        index = state.system_idx.detach().cpu().numpy()
        forces = out["forces"].detach().cpu().numpy().copy()
        stress = out["stress"].detach().cpu().numpy().copy()
        for b, sym in enumerate(self.symmetry or ()):
            if sym is None:
                continue
            rotations, translations, symm_map = sym
            cell = cells[b]
            inverse = np.linalg.inv(cell)  # = ase's cell.reciprocal().T
            mine = index == b
            forces[mine] = symmetrize_rank1(
                cell, inverse, forces[mine], rotations, translations, symm_map
            )
            stress[b] = symmetrize_rank2(cell, inverse, stress[b], rotations)
        out["forces"] = torch.as_tensor(forces, device=out["forces"].device)
        out["stress"] = torch.as_tensor(stress, device=out["stress"].device)


def to_state(structures: Sequence[Atoms], device: torch.device) -> Any:
    """A float64 torch-sim state of ``structures`` (periodic in all three directions)."""
    import torch_sim as ts

    return ts.io.atoms_to_state(list(structures), device, torch.float64)


@dataclass
class Outcome:
    """What the engine did for one structure: ``result`` (a RelaxResult, a dict of arrays for
    a single point, or the exception that ended it), the model's seconds spent on it (its
    share of each batched call, by atoms) and the model calls it took part in."""

    result: Any = None
    seconds: float = 0.0
    calls: int = 0


def model_error(err: Exception) -> Exception:
    """The failure a model call that raised is for its material, as
    :class:`bench.models.timing.ModelClock` words it: ModelError, unless it is already a
    MaterialError or the machine's MemoryError."""
    if isinstance(err, MaterialError | MemoryError):
        return err
    wrapped = ModelError(f"the model raised {type(err).__name__}: {err}")
    wrapped.__cause__ = err
    return wrapped


@dataclass(frozen=True)
class Budget:
    """How much shares one model call: structures are added while the sum of their
    ``metric`` (``n_atoms``, or torch-sim's ``n_atoms_x_density``) stays within ``limit``
    (a structure above it runs alone)."""

    metric: str
    limit: float

    def size(self, atoms: Atoms) -> float:
        """The metric of one structure (atoms; atoms × atoms per nm³)."""
        if self.metric == "n_atoms":
            return float(len(atoms))
        return len(atoms) * len(atoms) / (atoms.get_volume() / 1000.0)


def budget_for(
    driver: Float64Driver, samples: Sequence[Atoms], max_batch_atoms: int = MAX_BATCH_ATOMS
) -> Budget:
    """A fixed ``max_batch_atoms`` atoms per call on a CPU; on a GPU, torch-sim's memory
    estimate (``estimate_max_memory_scaler`` on the smallest and largest of ``samples``,
    times :data:`GPU_MEMORY_MARGIN`)."""
    if driver.device.type == "cpu" or not samples:
        return Budget("n_atoms", float(max_batch_atoms))
    from torch_sim.autobatching import calculate_memory_scaler, estimate_max_memory_scaler

    metric = driver.memory_scales_with
    states = [to_state([a], driver.device) for a in samples]
    values = [calculate_memory_scaler(s, metric) for s in states]
    limit = estimate_max_memory_scaler(driver, states, values, max_atoms=100_000)
    return Budget(metric, float(limit) * GPU_MEMORY_MARGIN)
