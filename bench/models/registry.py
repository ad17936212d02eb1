"""Model registry: a string key resolved to an ASE calculator inside the worker process.

The catalogue (``catalogue.toml``) is data; each family has one adapter module
(``bench/models/<family>.py``) satisfying :class:`bench.models.protocol.Adapter`, whose
``load`` returns a :class:`LoadedModel` (the :class:`bench.models.protocol.Model` contract).

Adapters are imported lazily: listing models imports no ML framework.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import re
import tomllib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from bench.batching import MAX_BATCH_ATOMS, chunk_by_atoms
from bench.errors import (
    BenchBugError,
    ConfigurationError,
    ModelError,
    ModelUnavailableError,
    UnknownModelError,
)
from bench.models.checkpoints import checkpoint_dir, file_sha256, resolve_checkpoint
from bench.models.protocol import Adapter, Model

CATALOGUE = Path(__file__).with_name("catalogue.toml")


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry (see catalogue.toml for the meaning of each field)."""

    key: str
    family: str
    package: str
    env: str
    source: str
    description: str
    dtypes: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    checkpoint: str | None = None
    table2: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    second_order_dtype: str | None = None  # default for phonons/elasticity if not the last

    @property
    def import_probe(self) -> str:
        """Module whose import proves the family works (``options.import``, else the package)."""
        return str(self.options.get("import", self.package))

    def dtype_for(self, requested: str | None, second_order: bool) -> str:
        """Precision to run: ``requested`` if supported, else the family default.

        For second-order quantities (phonons, elasticity) the default is ``second_order_dtype``
        if the catalogue sets one, else the most precise dtype the family supports (the last
        listed); for anything else the first.
        """
        if requested is not None:
            if requested not in self.dtypes:
                raise ModelUnavailableError(
                    f"{self.key} supports dtype {', '.join(self.dtypes)}, not {requested}"
                )
            return requested
        if second_order:
            return self.second_order_dtype or self.dtypes[-1]
        return self.dtypes[0]


@dataclass
class DifferentiableEnergy:
    """A model's total energy as a torch function of Cartesian positions and cell.

    ``positions`` (n, 3) Å and ``cell`` (3, 3) Å (lattice vectors as rows) are the point the
    model featurised: the structure's, possibly wrapped into the cell (so they may differ
    from ``Atoms.positions`` by lattice translations). ``energy(positions, cell)`` returns
    the total energy in eV as a 0-d tensor, differentiable in both arguments; the neighbour
    graph is the one built at that point (valid for rotations, which keep every distance).
    """

    positions: Any  # torch.Tensor (n, 3), Å
    cell: Any  # torch.Tensor (3, 3), Å, rows
    energy: Callable[[Any, Any], Any]  # (positions, cell) -> 0-d tensor, eV


@dataclass
class LoadedModel:
    """A model ready to evaluate: the ASE calculator plus what the manifest records."""

    key: str
    calculator: Calculator
    device: str
    dtype: str
    checkpoint: str | None = None
    #: optional batched force evaluation: list of Atoms -> list of (n, 3) arrays in eV/Å
    batch_forces: Callable[[Sequence[Atoms]], list[np.ndarray]] | None = None
    #: optional differentiable energy of a structure (torch models), for autograd equigrad
    energy_fn: Callable[[Atoms], DifferentiableEnergy] | None = None

    @property
    def checkpoint_sha256(self) -> str | None:
        return file_sha256(self.checkpoint) if self.checkpoint else None

    def forces(
        self,
        structures: Sequence[Atoms],
        batch: bool = True,
        max_batch_atoms: int = MAX_BATCH_ATOMS,
    ) -> list[np.ndarray]:
        """Forces (eV/Å) on each structure; batched (at most ``max_batch_atoms`` atoms per
        model call) when the adapter supports it, else one by one. A batch the model cannot
        take (e.g. out of memory) is redone one by one, with a warning."""
        if not (batch and self.batch_forces is not None and len(structures) > 1):
            return self._forces_one_by_one(structures)
        out: list[np.ndarray] = []
        for chunk in chunk_by_atoms(structures, max_batch_atoms):
            members = [structures[i] for i in chunk]
            if len(members) == 1:
                out.extend(self._forces_one_by_one(members))
                continue
            try:
                out.extend(self.batch_forces(members))
            except (RuntimeError, MemoryError, ModelError) as err:  # e.g. out of memory
                warnings.warn(
                    f"{self.key}: batch of {len(members)} structures failed "
                    f"({type(err).__name__}: {str(err)[:200]}); evaluating one by one",
                    RuntimeWarning,
                    stacklevel=2,
                )
                out.extend(self._forces_one_by_one(members))
        return out

    def _forces_one_by_one(self, structures: Sequence[Atoms]) -> list[np.ndarray]:
        out = []
        for atoms in structures:
            atoms = atoms.copy()
            atoms.calc = self.calculator
            out.append(np.array(atoms.get_forces(), dtype=float))
        return out


def _load_catalogue() -> dict[str, ModelSpec]:
    with open(CATALOGUE, "rb") as handle:
        raw = tomllib.load(handle)
    specs = {}
    for key, entry in raw.items():
        entry = dict(entry)
        entry["aliases"] = tuple(entry.get("aliases", ()))
        entry["dtypes"] = tuple(entry["dtypes"])
        specs[key] = ModelSpec(key=key, **entry)
    return specs


SPECS: dict[str, ModelSpec] = _load_catalogue()
_ALIASES: dict[str, str] = {
    name.lower(): spec.key for spec in SPECS.values() for name in (spec.key, *spec.aliases)
}


def list_models() -> list[ModelSpec]:
    """Every catalogue entry, in catalogue order."""
    return list(SPECS.values())


def resolve(name: str) -> ModelSpec:
    """Catalogue entry for a key or alias (case-insensitive); close matches on a miss."""
    key = _ALIASES.get(name.strip().lower())
    if key is None:
        close = difflib.get_close_matches(name.lower(), list(_ALIASES), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(sorted({_ALIASES[c] for c in close}))}?" if close else ""
        raise UnknownModelError(f"unknown model {name!r}{hint} (`bench models` lists them)")
    return SPECS[key]


def _adapter(family: str) -> Adapter:
    """The adapter module of ``family``; BenchBugError when it breaks the contract."""
    module = importlib.import_module(f"bench.models.{family}")
    if not isinstance(module, Adapter):
        raise BenchBugError(f"bench/models/{family}.py lacks load() or packaged_checkpoint()")
    return module


def resolve_device(device: str | None) -> str:
    """``cpu``/``cuda``/``cuda:N`` as given, or the best available when None or ``auto``."""
    if device in (None, "auto"):
        try:
            import torch
        except ImportError:
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not re.fullmatch(r"cuda(:\d+)?", device):
        raise ConfigurationError(f"unknown device {device!r}; choose cpu, cuda, cuda:N or auto")
    if device.startswith("cuda"):
        try:
            import torch
        except ImportError:
            torch = None
        if torch is None or not torch.cuda.is_available():
            raise ConfigurationError(
                f"--device {device}: no CUDA device is available here (use --device cpu or auto)"
            )
    return device


def load_model(
    name: str,
    *,
    device: str | None = None,
    dtype: str | None = None,
    checkpoint: str | Path | None = None,
    second_order: bool = True,
) -> LoadedModel:
    """Load a model by key or alias, in this process.

    ``dtype`` None picks the family default (the most precise for second-order quantities).
    """
    spec = resolve(name)
    if importlib.util.find_spec(spec.package) is None:
        reason = unavailable_reason(spec) or f"runs in environment '{spec.env}', not this one"
        raise ModelUnavailableError(f"{spec.key}: {reason}")
    local = resolve_checkpoint(spec.checkpoint, checkpoint)
    adapter = _adapter(spec.family)
    try:
        loaded = adapter.load(
            spec,
            device=resolve_device(device),
            dtype=spec.dtype_for(dtype, second_order),
            checkpoint=local,
        )
    except ModelUnavailableError:
        raise
    except Exception as err:
        if local is not None:  # a file the user gave: corrupt, or another family's
            raise ModelUnavailableError(
                f"{spec.key}: cannot load {local} ({type(err).__name__}: "
                f"{str(err).strip()[:200]}); is it a {spec.family} checkpoint?"
            ) from err
        if spec.checkpoint is None or adapter.packaged_checkpoint(spec):
            raise
        # the weights were to come from upstream: say which file, from where, where to put it
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelUnavailableError(
            f"{spec.key}: weights {spec.checkpoint} are not local and the download from "
            f"{spec.source} failed ({type(err).__name__}: {first[:200]}); put the file in "
            f"{checkpoint_dir() or '$BENCH_CHECKPOINTS'} or pass --checkpoint PATH"
        ) from err
    if not isinstance(loaded, Model):
        raise BenchBugError(f"bench/models/{spec.family}.py load() returned {type(loaded)}")
    return loaded


def unavailable_reason(spec: ModelSpec) -> str | None:
    """Why ``spec`` cannot run in this environment (a missing package or environment), or None.

    A checkpoint that is not local is no blocker: the upstream package downloads it when online
    (see :func:`checkpoint_status`); offline, loading fails with that message.
    """
    if importlib.util.find_spec(spec.package) is not None:
        return None
    if spec.env != "main":
        from bench.models.envs import env_python, env_ready

        if env_ready(spec.env, spec.import_probe):
            return None
        if env_python(spec.env) is not None:
            return (
                f"its environment '{spec.env}' exists but cannot import {spec.import_probe} "
                f"(bench env list; recreate with bench env create {spec.env})"
            )
        return (
            f"runs in its own environment '{spec.env}' (its pins clash with the main one), "
            f"not created yet: bench env create {spec.env}"
        )
    return f"package '{spec.package}' not installed: pip install -e '.[{spec.family}]'"


def local_checkpoint(spec: ModelSpec, explicit: str | Path | None = None) -> Path | None:
    """The checkpoint file this model would load here, if it is on disk."""
    path = resolve_checkpoint(spec.checkpoint, explicit)
    if path is None and spec.checkpoint and importlib.util.find_spec(spec.package):
        path = _adapter(spec.family).packaged_checkpoint(spec)
    return path


def checkpoint_status(spec: ModelSpec) -> str:
    """Where the weights come from: a local file, or the upstream download."""
    if spec.checkpoint is None:
        return "none needed"
    path = local_checkpoint(spec)
    if path is not None:
        return f"local: {path}"
    where = checkpoint_dir() or "$BENCH_CHECKPOINTS"
    return (
        f"not local: downloads from {spec.source} when online, or put {spec.checkpoint} "
        f"in {where} (or pass --checkpoint PATH)"
    )


def env_label(spec: ModelSpec) -> str:
    """``main``, or the family environment and its state (ready / not created)."""
    if spec.env == "main":
        return "main"
    from bench.models.envs import env_python, env_ready

    if importlib.util.find_spec(spec.package) is not None:
        return f"{spec.env} (importable here)"
    if env_python(spec.env) is None:
        return f"{spec.env} (not created)"
    return f"{spec.env} ({'ready' if env_ready(spec.env, spec.import_probe) else 'incomplete'})"


def model_rows() -> list[dict[str, str]]:
    """One row per model for ``bench models``: key, aliases, family, env, whether it runs
    here, and why not or where its checkpoint comes from."""
    rows = []
    for spec in list_models():
        reason = unavailable_reason(spec)
        rows.append(
            {
                "key": spec.key,
                "aliases": ", ".join(spec.aliases),
                "family": spec.family,
                "env": env_label(spec),
                "table2": spec.table2 or "",
                "runs here": "yes" if reason is None else "no",
                "why not / checkpoint": reason or checkpoint_status(spec),
            }
        )
    return rows
