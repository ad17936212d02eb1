"""What a model returns, checked where it returns it: energy a number, forces (n, 3), stress
(6,) or (3, 3), batched forces one (n, 3) array per structure. A model that returns anything
else fails that material with a :class:`ModelError` saying so, before bench's physics code
would fail on it with a numpy error far from the cause (or blame itself)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ase import Atoms

from bench.errors import ModelError

#: result key -> the shapes it may have (n: the structure's number of atoms)
SHAPES: dict[str, tuple[str, ...]] = {
    "energy": ("()", "(1,)"),
    "free_energy": ("()", "(1,)"),
    "forces": ("(n, 3)",),
    "stress": ("(6,)", "(3, 3)"),
}


def _allowed(key: str, n_atoms: int) -> list[tuple[int, ...]]:
    shapes = {"()": (), "(1,)": (1,), "(n, 3)": (n_atoms, 3), "(6,)": (6,), "(3, 3)": (3, 3)}
    return [shapes[s] for s in SHAPES[key]]


def _shape_of(key: str, value: Any) -> tuple[int, ...]:
    """The shape of ``value`` as an array of numbers, or ModelError when it is none."""
    try:
        return np.asarray(value, dtype=float).shape
    except (TypeError, ValueError) as err:
        kind = type(value).__name__
        raise ModelError(f"the model returned {key} that are not numbers ({kind}: {err})") from None


def check_results(results: dict[str, Any], n_atoms: int) -> None:
    """ModelError when a calculator's ``results`` hold an energy, forces or stress of a shape
    other than :data:`SHAPES` for a structure of ``n_atoms`` atoms (other keys: not checked)."""
    for key in SHAPES:
        if key not in results or results[key] is None:
            continue
        shape = _shape_of(key, results[key])
        if shape not in _allowed(key, n_atoms):
            expected = " or ".join(SHAPES[key]).replace("n", str(n_atoms))
            raise ModelError(
                f"the model returned {key} of shape {shape} for {n_atoms} atoms; "
                f"expected {expected}"
            )


def check_batch(structures: Sequence[Atoms], forces: Any) -> None:
    """ModelError unless a batched force call returned one (n, 3) array per structure."""
    try:
        count = len(forces)
    except TypeError:
        raise ModelError(
            f"the model's batched forces returned {type(forces).__name__}, "
            f"not one array per structure"
        ) from None
    if count != len(structures):
        raise ModelError(
            f"the model's batched forces returned {count} arrays for {len(structures)} structures"
        )
    for i, (atoms, value) in enumerate(zip(structures, forces, strict=True)):
        shape = _shape_of("forces", value)
        if shape != (len(atoms), 3):
            raise ModelError(
                f"the model's batched forces returned shape {shape} for structure {i} of "
                f"{len(atoms)} atoms; expected ({len(atoms)}, 3)"
            )
