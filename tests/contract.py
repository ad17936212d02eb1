"""The model-adapter contract test factory (bench/models/protocol.py), used by every family.

:func:`check_contract` loads a model through bench's adapter — in the family's own
interpreter, on the packaged weights or a checkpoint built from the upstream architecture
with random weights — and runs the contract checks bench ships (:mod:`bench.testing`, also
``bench check-model``) on rattled small periodic cells (tests/families/check_model.py):
energy, forces and stress finite with ASE's shapes and units; forces = −dE/dx and stress =
(1/V) dE/dε by central finite differences for conservative models (a direct model's predicted
forces are not its energy's gradient); batched forces = one by one; the requested dtype is
the one the torch parameters hold; the energy invariant under translation and rotation.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.models import resolve
from bench.models.families import FAMILIES as CATALOGUE_FAMILIES
from bench.testing import Check, format_checks

FAMILIES_DIR = Path(__file__).resolve().parent / "families"


@dataclass(frozen=True)
class Family:
    """One line of the contract list: a catalogue key and how to test it.

    ``build``: a ``tests/families`` script, its arguments, and last the checkpoint file's
    suffix: the script gets the arguments and the output path and writes a random-weight
    checkpoint; None: the weights ship with the package. ``env``: ``main`` or the family
    environment; ``conservative``: forces and stress are derivatives of the energy;
    ``batched``: the adapter has batched forces; ``dtypes``: the precisions to check (None:
    the catalogue's default for second-order work); ``rotation``: equivariant by construction
    (Orb-v3 is not: its rotation errors are reported, not judged).
    """

    key: str
    build: tuple[str, ...] | None = None
    env: str = "main"
    conservative: bool = True
    batched: bool = True
    dtypes: tuple[str | None, ...] = (None,)
    rotation: bool = True


def _row(row: dict) -> Family:
    """A catalogue ``contract`` row as a :class:`Family` (its environment: the model's)."""
    row = dict(row)
    build = row.pop("build", None)
    dtypes = tuple(None if d == "default" else d for d in row.pop("dtypes", ["default"]))
    env = resolve(row["key"]).env
    return Family(**row, build=tuple(build) if build else None, env=env, dtypes=dtypes)


#: the contract test list, from the catalogue's family tables (test_contract.py runs each)
FAMILIES = [_row(row) for family in CATALOGUE_FAMILIES.values() for row in family.contract]


def model_output(python: str, family: Family, checkpoint: Path | None, dtype: str | None) -> dict:
    """What tests/families/check_model.py measures for ``family`` in ``python``."""
    kind = "conservative" if family.conservative else "direct"
    argv = [python, str(FAMILIES_DIR / "check_model.py"), family.key, str(checkpoint or "-")]
    argv += [dtype or "-", kind, "exact" if family.rotation else "approx"]
    done = subprocess.run(argv, capture_output=True, text=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH-JSON ")), None)
    assert line, done.stderr[-3000:]
    return json.loads(line[len("BENCH-JSON ") :])


def build_checkpoint(python: str, family: Family, directory: Path) -> Path | None:
    """The family's random-weight checkpoint, built in ``python`` (None: packaged weights)."""
    if family.build is None:
        return None
    script, *args = family.build
    path = directory / f"{family.key}-random{args[-1]}"
    argv = [python, str(FAMILIES_DIR / script), *args[:-1], str(path)]
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return path


def check_contract(
    python: str, family: Family, checkpoint: Path | None, dtype: str | None = None
) -> dict:
    """Assert the adapter contract for ``family`` (see the module docstring); the output."""
    out = model_output(python, family, checkpoint, dtype)
    if dtype is not None:
        assert out["dtype"] == dtype
    _check_weights(family, checkpoint, out["checkpoint"])
    expected = "float64" if out["dtype"] == "float64" else "float32"
    assert out["param_dtype"] in (None, expected), (
        f"{out['dtype']} run, {out['param_dtype']} weights"
    )
    assert out["batched"] == family.batched
    checks = [Check(**c) for c in out["checks"]]
    assert not any(c.passed is False for c in checks), format_checks(checks)
    judged = {c.name for c in checks if c.passed is not None}
    assert "energy, forces, stress: shapes, finite" in judged
    assert ("batched forces = one by one" in judged) == family.batched
    return out


def _check_weights(family: Family, built: Path | None, loaded: str | None) -> None:
    """The adapter loaded the built checkpoint, else the catalogue's packaged file (which
    exists), else nothing (a model without weights, such as EMT)."""
    if built is not None:
        assert loaded == str(built)
        return
    expected = resolve(family.key).checkpoint
    if expected is None:
        assert loaded is None, f"{family.key} has no weights but loaded {loaded}"
        return
    assert loaded is not None and Path(loaded).name == expected and Path(loaded).is_file(), (
        f"{family.key} loaded {loaded}, not its packaged {expected}"
    )
