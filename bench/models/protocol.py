"""The model-adapter contract, as types: what an adapter module provides (its ``load``
returns a :class:`bench.models.loaded.LoadedModel`, what the tasks use). ``tests/contract.py``
checks every family against it (energy, forces and stress in ASE units, forces = −dE/dx for
conservative models, stress = (1/V) dE/dε, batched = one by one, the dtype honoured).

Adding a family: one adapter module ``bench/models/<family>.py`` satisfying
:class:`Adapter`, its catalogue entries and family table (``catalogue.toml``, whose
``contract`` rows ``tests/test_contract.py`` runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bench.models.spec import ModelSpec


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
