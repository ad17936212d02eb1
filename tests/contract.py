"""The model-adapter contract test factory (bench/models/protocol.py), used by every family.

:func:`check_contract` loads a model through bench's adapter — in the family's own
interpreter, on the packaged weights or a checkpoint built from the upstream architecture
with random weights — evaluates a small rattled periodic cell (tests/families/check_model.py)
and asserts the contract: energy, forces and stress finite with ASE's shapes and units;
forces = −dE/dx and stress = (1/V) dE/dε by central finite differences for conservative
models (a direct model's predicted forces are not its energy's gradient); batched forces =
one by one; the requested dtype is the one the torch parameters hold.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.models import resolve

FAMILIES_DIR = Path(__file__).resolve().parent / "families"


@dataclass(frozen=True)
class Family:
    """One line of the contract list: a catalogue key and how to test it.

    ``build``: a ``tests/families`` script, its arguments, and last the checkpoint file's
    suffix: the script gets the arguments and the output path and writes a random-weight
    checkpoint; None: the weights ship with the package. ``env``: ``main`` or the family
    environment; ``conservative``: forces and stress are derivatives of the energy;
    ``batched``: the adapter has batched forces; ``dtypes``: the precisions to check (None:
    the catalogue's default for second-order work).
    """

    key: str
    build: tuple[str, ...] | None = None
    env: str = "main"
    conservative: bool = True
    batched: bool = True
    dtypes: tuple[str | None, ...] = (None,)


#: the contract test list: one line per family (test_contract.py runs each)
FAMILIES = [
    Family("emt", batched=False),
    Family("chgnet-0.3.0"),
    Family("7net-0"),
    Family("sevennet-mf-ompa", build=("build_sevenn.py", ".pth")),
    Family("orb-v3-conservative-20", build=("build_orb.py", "conservative", ".ckpt"),
           dtypes=(None, "float64")),
    Family("orb-v3-direct-20", build=("build_orb.py", "direct", ".ckpt"), conservative=False),
    Family("mace-mpa-0", build=("build_mace.py", ".model"), env="mace"),
    Family("esen-30m-oam", build=("build_esen.py", ".pt"), env="fairchem", batched=False),
]  # fmt: skip


def model_output(python: str, key: str, checkpoint: Path | None, dtype: str | None) -> dict:
    """What tests/families/check_model.py measures for ``key`` in ``python``."""
    argv = [python, str(FAMILIES_DIR / "check_model.py"), key, str(checkpoint or "-")]
    done = subprocess.run([*argv, *([dtype] if dtype else [])], capture_output=True, text=True)
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
    out = model_output(python, family.key, checkpoint, dtype)
    if dtype is not None:
        assert out["dtype"] == dtype
    _check_weights(family, checkpoint, out["checkpoint"])
    expected = "float64" if out["dtype"] == "float64" else "float32"
    assert out["param_dtype"] in (None, expected), (
        f"{out['dtype']} run, {out['param_dtype']} weights"
    )
    forces, stress = np.array(out["forces"]), np.array(out["stress"])
    assert np.isfinite(out["energy"]) and forces.shape == (out["n_atoms"], 3)
    assert stress.shape == (6,) and np.all(np.isfinite(forces)) and np.all(np.isfinite(stress))
    assert np.abs(forces).max() > 1e-6  # a rattled cell has forces
    _check_derivatives(out, forces, stress, family.conservative)
    if not family.batched:
        assert out["batch_max_diff"] is None
    else:  # batched forces equal one-by-one to numerical precision
        assert out["batch_max_diff"] is not None
        assert out["batch_max_diff"] <= (1e-10 if out["dtype"] == "float64" else 1e-5)
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


def _check_derivatives(out: dict, forces: np.ndarray, stress: np.ndarray, conservative: bool):
    """forces = −dE/dx and stress = (1/V) dE/dε (conservative), or forces ≠ −dE/dx (direct)."""
    fd = np.array(out["fd_forces"])
    rel = 1e-3 if out["dtype"] == "float64" else 2e-2  # float32 noise at the FD steps
    if not conservative:  # direct models predict forces: not the gradient of their energy
        assert np.abs(forces[:3] - fd).max() > 1e-3
        return
    np.testing.assert_allclose(forces[:3], fd, atol=1e-6 + rel * np.abs(forces).max())
    fd_stress = np.array([out["fd_stress"]["0"], out["fd_stress"]["5"]])
    scale = np.abs(stress).max()
    np.testing.assert_allclose(stress[[0, 5]], fd_stress, atol=1e-7 + 5 * rel * scale)
