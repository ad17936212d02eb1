"""The model contract as checks any model can run (``bench check-model MODEL``, a model
package's own tests, ``tests/contract.py``): energy, forces and stress finite with ASE's
shapes and units; forces = −dE/dx and stress = (1/V) dE/dε by central finite differences on
rattled small cells; batched forces = one by one; the dtype honoured; the energy invariant
under translation and rotation (and the forces rotating with the cell).

    from bench.testing import assert_model_contract
    assert_model_contract(make_my_calculator())   # an ASE calculator or a LoadedModel
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import bulk

from bench.models.loaded import LoadedModel

VOIGT = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


@dataclass(frozen=True)
class Check:
    """One contract check: ``passed`` None when it does not apply (``value`` says why)."""

    name: str
    passed: bool | None
    value: str
    tolerance: str


def as_model(model: Any) -> LoadedModel:
    """``model`` as a LoadedModel (an ASE calculator is wrapped: float64 assumed unknown)."""
    if isinstance(model, LoadedModel):
        return model
    if not hasattr(model, "get_potential_energy"):
        raise TypeError(f"not an ASE calculator or LoadedModel: {type(model).__name__}")
    return LoadedModel(key=type(model).__name__, calculator=model, device="cpu", dtype="native")


def _rattled(kind: str, rep: tuple[int, int, int], seed: int) -> Atoms:
    """A rattled rock-salt NaCl (``nacl``) or CuAu-on-fcc (``cuau``, EMT's elements) cell."""
    if kind == "cuau":
        atoms = bulk("Cu", "fcc", a=3.75, cubic=True) * rep
        atoms.symbols[::3] = "Au"
    else:
        atoms = bulk("NaCl", "rocksalt", a=5.64) * rep
    atoms.rattle(0.05, seed=seed)
    return atoms


def _energy(model: LoadedModel, atoms: Atoms) -> float:
    atoms = atoms.copy()
    atoms.calc = model.calculator
    return float(atoms.get_potential_energy())


def contract_cells(model: LoadedModel) -> list[Atoms]:
    """Two rattled small cells of elements the model takes (NaCl, else CuAu). A model with a
    neighbour-count cap (Orb-v3 ``-20``) is not smooth where the capped set changes: other
    rattles of these cells put orb-v3-conservative-20 there (forces ≠ −dE/dx by 1e-2 eV/Å)."""
    errors = []
    for kind in ("nacl", "cuau"):
        try:
            _energy(model, _rattled(kind, (1, 1, 1), 0))
        except Exception as err:  # an element the model does not know: the next kind
            errors.append(f"{kind}: {type(err).__name__}: {str(err).strip()[:160]}")
            continue
        return [_rattled(kind, (2, 1, 1), 1), _rattled(kind, (1, 2, 1), 1)]
    raise ValueError(f"{model.key} evaluates neither NaCl nor CuAu cells ({'; '.join(errors)})")


def fd_forces(model: LoadedModel, atoms: Atoms, h: float, n: int = 3) -> np.ndarray:
    """−dE/dx (eV/Å) of the first ``n`` atoms by central differences of step ``h`` (Å)."""
    n = min(n, len(atoms))
    out = np.zeros((n, 3))
    for i in range(n):
        for k in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, k] += h
            minus.positions[i, k] -= h
            out[i, k] = -(_energy(model, plus) - _energy(model, minus)) / (2 * h)
    return out


def fd_stress(model: LoadedModel, atoms: Atoms, d: float, voigt: int) -> float:
    """(1/V) dE/dε (eV/Å³) of one Voigt component by central differences of strain ``d``."""
    i, j = VOIGT[voigt]

    def strained(eps: float) -> float:
        strain = np.eye(3)
        strain[i, j] += eps
        strain[j, i] += eps if i != j else 0.0
        other = atoms.copy()
        other.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        return _energy(model, other)

    # a shear eps on both xy and yx moves the energy by 2 V σ_xy eps
    return (strained(d) - strained(-d)) / (2 * d * atoms.get_volume() * (2 if voigt > 2 else 1))


def torch_dtype(obj: object, depth: int = 3) -> str | None:
    """dtype of the first torch module's parameters found in ``obj``'s attributes."""
    try:
        import torch
    except ImportError:
        return None
    if isinstance(obj, torch.nn.Module):
        param = next(obj.parameters(), None)
        return None if param is None else str(param.dtype).removeprefix("torch.")
    if depth == 0:
        return None
    values = obj if isinstance(obj, list | tuple) else getattr(obj, "__dict__", {}).values()
    for value in values:
        found = torch_dtype(value, depth - 1)
        if found:
            return found
    return None


def _outputs(model: LoadedModel, atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Energy, forces and stress (None: the model gives none) of ``atoms``."""
    atoms = atoms.copy()
    atoms.calc = model.calculator
    energy = float(atoms.get_potential_energy())
    try:
        stress = np.asarray(atoms.get_stress())
    except Exception:  # PropertyNotImplementedError: said by the stress check's row
        stress = None
    return energy, np.asarray(atoms.get_forces()), stress


def _failed(name: str, err: Exception) -> Check:
    """A check that raised: a failed row with the error."""
    return Check(name, False, f"{type(err).__name__}: {str(err).strip()[:120]}", "")


def _check(name: str, error: float, tolerance: float, unit: str) -> Check:
    return Check(name, bool(error <= tolerance), f"{error:.3g} {unit}", f"≤ {tolerance:.3g} {unit}")


def check_model(model: Any, conservative: bool = True, rotation: bool = True) -> list[Check]:
    """Every contract check of ``model`` (a LoadedModel or an ASE calculator).

    Tolerances: float64 models to 1e-3 of the largest force (steps 1e-3 Å, strain 1e-4),
    others (float32 noise at the steps) to 2e-2 (steps 1e-2 Å, strain 1e-3). A direct model
    (``conservative=False``) must have forces that are *not* its energy's gradient. A model
    not rotation-equivariant by construction (``rotation=False``, e.g. Orb-v3) has its
    rotation errors reported, not judged.
    """
    model = as_model(model)
    try:
        cells = contract_cells(model)
    except Exception as err:  # every defect a row of the table, never a bare exception
        return [_failed("evaluates a small cell (NaCl or CuAu)", err)]
    exact = model.dtype == "float64" or (
        model.dtype == "native" and torch_dtype(model.calculator) in (None, "float64")
    )
    checks = [_guarded("energy, forces, stress: shapes, finite", _shapes, model, cells)]
    for n, atoms in enumerate(cells):
        checks += _guarded(f"cell {n + 1}", _cell, model, atoms, n, exact, conservative, rotation)
    return [
        *checks,
        _guarded("batched forces = one by one", _batched, model, cells, exact),
        _dtype(model),
    ]


def _guarded(name: str, check: Any, *args: Any) -> Any:
    """``check(*args)``, or a failed row ``name`` (in a list where the check gives one)."""
    try:
        return check(*args)
    except Exception as err:
        row = _failed(name, err)
        return row if check in (_shapes, _batched) else [row]


def _cell(
    model: LoadedModel,
    atoms: Atoms,
    n: int,
    exact: bool,
    conservative: bool,
    rotation: bool,
) -> list[Check]:
    """The checks on one rattled cell: forces and stress against finite differences, and
    (the first cell) the invariances."""
    rel, h, d = (1e-3, 1e-3, 1e-4) if exact else (2e-2, 1e-2, 1e-3)
    checks: list[Check] = []
    energy, forces, stress = _outputs(model, atoms)
    scale = float(np.abs(forces).max())
    fd = fd_forces(model, atoms, h)
    error = float(np.abs(forces[: len(fd)] - fd).max())
    tol = 1e-6 + rel * scale
    if conservative:
        checks.append(_check(f"forces = −dE/dx (cell {n + 1})", error, tol, "eV/Å"))
    else:
        checks.append(
            Check(f"direct forces ≠ −dE/dx (cell {n + 1})", error > tol, f"{error:.3g}", "")
        )
    if stress is None:
        return [*checks, Check("stress present", False, "no stress", "(6,) eV/Å³")]
    fd_s = np.array([fd_stress(model, atoms, d, v) for v in (0, 5)])
    s_error = float(np.abs(stress[[0, 5]] - fd_s).max())
    s_tol = 1e-7 + 5 * rel * float(np.abs(stress).max())
    stress_check = _check(f"stress = (1/V) dE/dε (cell {n + 1})", s_error, s_tol, "eV/Å³")
    if not conservative:  # a direct model predicts its stress too: reported, not judged
        stress_check = Check(stress_check.name, None, stress_check.value, "not judged")
    checks.append(stress_check)
    if n == 0:
        checks += _invariance(model, atoms, energy, forces, rel, rotation)
    return checks


def _shapes(model: LoadedModel, cells: list[Atoms]) -> Check:
    """Energy a finite float (eV), forces (n, 3) and stress (6,) finite, forces not all 0."""
    for atoms in cells:
        energy, forces, stress = _outputs(model, atoms)
        stress = np.zeros(6) if stress is None else stress  # a missing stress: its own row
        shapes = forces.shape == (len(atoms), 3) and stress.shape == (6,)
        finite = np.isfinite(energy) and np.isfinite(forces).all() and np.isfinite(stress).all()
        if not (shapes and finite and np.abs(forces).max() > 1e-6):
            value = f"forces {forces.shape}, stress {stress.shape}, finite {bool(finite)}"
            return Check("energy, forces, stress: shapes, finite", False, value, "")
    return Check("energy, forces, stress: shapes, finite", True, "(n, 3), (6,)", "")


def _invariance(
    model: LoadedModel,
    atoms: Atoms,
    energy: float,
    forces: np.ndarray,
    rel: float,
    rotation: bool = True,
) -> list[Check]:
    """Energy under a translation and a rotation (cell and atoms); forces rotate along."""
    tol = 1e-8 * len(atoms) + rel * 1e-3 * max(abs(energy), 1.0)
    moved = atoms.copy()
    moved.translate([0.31, -0.17, 0.23])
    translated = abs(_energy(model, moved) - energy)
    turned = atoms.copy()
    turned.rotate(37.0, (1.0, 2.0, 3.0), rotate_cell=True)
    matrix = turned.cell.array.T @ np.linalg.inv(atoms.cell.array.T)
    t_energy, t_forces, _ = _outputs(model, turned)
    f_error = float(np.abs(t_forces - forces @ matrix.T).max())
    f_tol = 1e-6 + rel * float(np.abs(forces).max())
    turning = [
        _check("energy invariant under rotation", abs(t_energy - energy), tol, "eV"),
        _check("forces rotate with the cell", f_error, f_tol, "eV/Å"),
    ]
    if not rotation:  # reported, not judged
        turning = [Check(c.name, None, c.value, "not judged") for c in turning]
    return [_check("energy invariant under translation", translated, tol, "eV"), *turning]


def _batched(model: LoadedModel, cells: list[Atoms], exact: bool) -> Check:
    """Batched forces equal one by one, where the model batches."""
    if model.batch_forces is None:
        return Check("batched forces = one by one", None, "no batched forces", "")
    batched, single = model.forces(cells, batch=True), model.forces(cells, batch=False)
    error = max(float(np.abs(a - b).max()) for a, b in zip(batched, single, strict=True))
    return _check("batched forces = one by one", error, 1e-10 if exact else 1e-5, "eV/Å")


def _dtype(model: LoadedModel) -> Check:
    """The torch parameters hold the precision the model was asked for."""
    found = torch_dtype(model.calculator)
    if model.dtype == "native" or found is None:
        return Check("dtype honoured", None, f"{model.dtype} (weights {found or 'not torch'})", "")
    expected = "float64" if model.dtype == "float64" else "float32"
    return Check("dtype honoured", found == expected, f"weights {found}", f"= {expected}")


def format_checks(checks: list[Check]) -> str:
    """The checks as a plain-text table: check, result, value, tolerance."""
    rows = [("check", "result", "value", "tolerance")]
    for c in checks:
        result = "n/a" if c.passed is None else ("pass" if c.passed else "FAIL")
        rows.append((c.name, result, c.value, c.tolerance))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)) for r in rows)


def assert_model_contract(
    model: Any, conservative: bool = True, rotation: bool = True
) -> list[Check]:
    """:func:`check_model`, raising AssertionError (with the table) when a check fails."""
    checks = check_model(model, conservative, rotation)
    if any(c.passed is False for c in checks):
        raise AssertionError("model contract failed:\n" + format_checks(checks))
    return checks
