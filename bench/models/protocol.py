"""The model-adapter contract, as types: what an adapter module provides and what a loaded
model offers the tasks. ``tests/contract.py`` checks every family against it (energy, forces
and stress in ASE units, forces = −dE/dx for conservative models, stress = (1/V) dE/dε,
batched = one by one, the dtype honoured).

Adding a family: one adapter module ``bench/models/<family>.py`` satisfying
:class:`Adapter`, its catalogue entries and family table (``catalogue.toml``, whose
``contract`` rows ``tests/test_contract.py`` runs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from bench.models.loaded import DifferentiableEnergy
from bench.models.spec import ModelSpec


@runtime_checkable
class Model(Protocol):
    """A loaded model (:class:`bench.models.registry.LoadedModel` is the one implementation).

    ``calculator``: an ASE calculator giving energy [eV], forces [eV/Å] and stress [eV/Å³,
    Voigt]; ``device`` and ``dtype`` as run (``dtype`` one of the catalogue's ``dtypes``);
    ``checkpoint``: the weights file loaded (None: weights built in); ``batch_forces``
    (optional): forces on several structures in one model call, equal to one by one;
    ``energy_fn`` (optional): the energy as a differentiable torch function.
    """

    key: str
    calculator: Calculator
    device: str
    dtype: str
    checkpoint: str | None
    batch_forces: Callable[[Sequence[Atoms]], list[np.ndarray]] | None
    energy_fn: Callable[[Atoms], DifferentiableEnergy] | None

    def forces(
        self, structures: Sequence[Atoms], batch: bool = True, max_batch_atoms: int = ...
    ) -> list[np.ndarray]: ...


@runtime_checkable
class Adapter(Protocol):
    """An adapter module (``bench/models/<family>.py``).

    ``load(spec, *, device, dtype, checkpoint)`` builds the model on ``device`` in ``dtype``
    (raise for a dtype it cannot honour); ``checkpoint`` is a local file, or None for upstream
    resolution (download when online, the package's cache). ``packaged_checkpoint(spec)``:
    where upstream keeps the weights locally (in the wheel, or cached), without downloading.
    """

    def load(self, spec: ModelSpec, *, device: str, dtype: str, checkpoint: Path | None) -> Any: ...

    def packaged_checkpoint(self, spec: ModelSpec) -> Path | None: ...


def require_dtype(spec: ModelSpec, dtype: str, supported: tuple[str, ...]) -> None:
    """ModelUnavailableError unless the adapter can honour ``dtype``."""
    from bench.errors import ModelUnavailableError

    if dtype not in supported:
        raise ModelUnavailableError(f"{spec.key} runs in {', '.join(supported)} only, not {dtype}")
