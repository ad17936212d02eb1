"""Equigrad: how far a potential's energy is from rotational invariance (Orb-v3 paper).

With R(G) = exp(G − Gᵀ) for a 3×3 matrix G, ``Δrot = ∂E(r R, h R)/∂G`` at G = 0, where r (n, 3)
are the Cartesian positions and h (3, 3) the cell, both as rows (Å). Invariant models give 0.

Derivation. At G = 0, dR = dG − dGᵀ and d(rR) = r dR, d(hR) = h dR, so

    dE = Σ_ab M_ab dR_ab,   M = rᵀ ∂E/∂r + hᵀ ∂E/∂h = −rᵀF + hᵀ ∂E/∂h

(∂E/∂r at fixed cell, ∂E/∂h at fixed Cartesian positions; M is the virial of a general
deformation r → r(1 + ε), h → h(1 + ε)), hence ``Δrot = M − Mᵀ``: antisymmetric, with three
independent components, the so(3) part of M. G is dimensionless, so Δrot is in eV (per
radian). Δrot_ab is the derivative of E along the rotation by angle t in the (a, b) plane,
R = exp(t (E_ab − E_ba)), which is what the finite-difference path evaluates. ``‖Δrot‖`` is the
Frobenius norm of the 3×3 matrix, as in orb-models' equigrad loss (= √2 × the norm of the three
components). An ASE stress (Voigt, symmetric by construction) cannot give it: the
antisymmetric part of M is exactly what a symmetric stress drops.

Two paths: autograd through ``LoadedModel.energy_fn`` (torch models whose adapter provides
it), and central finite differences over the three generators of so(3) for any ASE
calculator, with the step chosen on a halving ladder (the first step that agrees with the
next within the tolerance). In the same pass: the energy change and the force-equivariance
error ‖F(rR) − F(r)R‖ under one explicit random rotation.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from scipy.linalg import expm

from bench.errors import MaterialError, NonFiniteError, NotConvergedError
from bench.models import DifferentiableEnergy, LoadedModel
from bench.physics.rotations import force_equivariance, random_rotation, rotated, so3_generator
from bench.settings import check_finite

#: index pairs (a, b) of the three so(3) generators E_ab − E_ba, named by their plane
PLANES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2))
PLANE_NAMES = ("xy", "xz", "yz")
METHODS = ("auto", "autograd", "fd")


@dataclass(frozen=True)
class EquigradSettings:
    """Equigrad protocol: every knob that changes a number, hashed into each record."""

    #: "auto": autograd when the model's adapter provides ``energy_fn``, else finite
    #: differences; "fd": finite differences only; "autograd": fail without ``energy_fn``.
    #: Finite differences always run (cross-check of autograd when both are available).
    method: str = "auto"
    #: central-difference rotation angles (rad), largest first; each compared with the next
    fd_steps_rad: tuple[float, ...] = (0.04, 0.02, 0.01, 0.005, 0.0025)
    #: two successive steps agree when ‖D(h) − D(h/2)‖ ≤ max(abs tol × n_atoms, rel tol ×
    #: ‖D(h/2)‖); the absolute part is per atom because energy round-off grows with the cell
    fd_abs_tol_eV_per_atom: float = 1.0e-4
    fd_rel_tol: float = 1.0e-3
    rotation_seed: int = 0  # scipy Rotation.random(random_state=seed) for the cross-check
    #: model precision; None = the family's most precise (resolved before hashing)
    dtype: str | None = None

    def __post_init__(self) -> None:
        check_finite(self)
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        steps = self.fd_steps_rad
        if not 2 <= len(steps) <= 20 or any(not 0 < s <= 0.5 for s in steps):
            raise ValueError(f"fd_steps_rad needs 2 to 20 steps in (0, 0.5] rad, got {steps}")
        if any(b >= a for a, b in itertools.pairwise(steps)):
            raise ValueError("fd_steps_rad must be strictly decreasing")


@dataclass
class FiniteDifference:
    """Δrot (3×3, eV) by central differences at ``step_rad``, and how it was chosen."""

    matrix_eV: np.ndarray
    step_rad: float
    error_estimate_eV: float  # ‖D(step) − D(previous step)‖
    tolerance_eV: float
    converged: bool
    ladder: list[dict[str, float]] = field(default_factory=list)
    n_energies: int = 0


def delta_rot_from_gradients(
    positions: np.ndarray, dE_dpositions: np.ndarray, cell: np.ndarray, dE_dcell: np.ndarray
) -> np.ndarray:
    """Δrot = M − Mᵀ with M = rᵀ ∂E/∂r + hᵀ ∂E/∂h (eV), from the energy's gradients
    (∂E/∂r = −F in eV/Å at fixed cell; ∂E/∂h in eV/Å at fixed Cartesian positions)."""
    m = np.asarray(positions).T @ np.asarray(dE_dpositions)
    m = m + np.asarray(cell).T @ np.asarray(dE_dcell)
    return m - m.T


def norm(matrix: np.ndarray) -> float:
    """Frobenius norm (eV) of a Δrot matrix."""
    return float(np.linalg.norm(matrix))


def components(matrix: np.ndarray) -> dict[str, float]:
    """The three independent entries Δrot_xy, Δrot_xz, Δrot_yz (eV)."""
    return {name: float(matrix[a, b]) for name, (a, b) in zip(PLANE_NAMES, PLANES, strict=True)}


def _energy(atoms: Atoms, calculator: Calculator) -> float:
    atoms = atoms.copy()
    atoms.calc = calculator
    energy = float(atoms.get_potential_energy())
    if not np.isfinite(energy):
        raise NonFiniteError(f"non-finite energy {energy}")
    return energy


def _forces(atoms: Atoms, calculator: Calculator) -> tuple[float, np.ndarray]:
    atoms = atoms.copy()
    atoms.calc = calculator
    energy = float(atoms.get_potential_energy())
    forces = np.array(atoms.get_forces(), dtype=float)
    if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
        raise NonFiniteError("non-finite energy or forces")
    return energy, forces


def _fd_matrix(atoms: Atoms, calculator: Calculator, step: float) -> np.ndarray:
    out = np.zeros((3, 3))
    for a, b in PLANES:
        generator = so3_generator(a, b)
        plus = _energy(rotated(atoms, expm(step * generator)), calculator)
        minus = _energy(rotated(atoms, expm(-step * generator)), calculator)
        out[a, b] = (plus - minus) / (2.0 * step)
        out[b, a] = -out[a, b]
    return out


def delta_rot_fd(
    atoms: Atoms,
    calculator: Calculator,
    steps_rad: tuple[float, ...] = EquigradSettings.fd_steps_rad,
    abs_tol_eV_per_atom: float = EquigradSettings.fd_abs_tol_eV_per_atom,
    rel_tol: float = EquigradSettings.fd_rel_tol,
) -> FiniteDifference:
    """Δrot (eV) by central differences of the calculator's energy over the so(3) generators.

    Steps are tried largest first; the result is D at the first step h_k with
    ‖D(h_k) − D(h_(k−1))‖ within tolerance (converged), else at the step where two successive
    values differ least (not converged; its difference is the error estimate).
    """
    abs_tol = abs_tol_eV_per_atom * len(atoms)
    values = [_fd_matrix(atoms, calculator, steps_rad[0])]
    ladder = [{"step_rad": steps_rad[0], "norm_eV": norm(values[0])}]
    diffs: list[float] = []
    tolerance = abs_tol
    for k in range(1, len(steps_rad)):
        values.append(_fd_matrix(atoms, calculator, steps_rad[k]))
        diffs.append(norm(values[k] - values[k - 1]))
        tolerance = max(abs_tol, rel_tol * norm(values[k]))
        ladder.append({"step_rad": steps_rad[k], "norm_eV": norm(values[k]), "diff_eV": diffs[-1]})
        if diffs[-1] <= tolerance:
            return FiniteDifference(
                values[k], steps_rad[k], diffs[-1], tolerance, True, ladder, 6 * (k + 1)
            )
    best = int(np.argmin(diffs)) + 1
    tolerance = max(abs_tol, rel_tol * norm(values[best]))
    return FiniteDifference(
        values[best],
        steps_rad[best],
        diffs[best - 1],
        tolerance,
        False,
        ladder,
        6 * len(steps_rad),
    )


def delta_rot_autograd(energy: DifferentiableEnergy) -> np.ndarray:
    """Δrot (eV) = ∂E(r exp(G − Gᵀ), h exp(G − Gᵀ))/∂G at G = 0, by torch autograd."""
    import torch

    positions = energy.positions.detach()
    cell = energy.cell.detach()
    generator = torch.zeros((3, 3), dtype=positions.dtype, device=positions.device)
    generator.requires_grad_(True)
    rotation = torch.linalg.matrix_exp(generator - generator.T)
    total = energy.energy(positions @ rotation, cell @ rotation)
    (grad,) = torch.autograd.grad(total.sum(), generator)
    out = grad.detach().cpu().double().numpy()
    if not np.all(np.isfinite(out)):
        raise NonFiniteError("non-finite autograd Δrot")
    return out


def run_equigrad(
    atoms: Atoms, model: LoadedModel | Calculator, settings: EquigradSettings
) -> dict[str, Any]:
    """Δrot of one structure (no relaxation) with the random-rotation cross-checks.

    Returns ``values`` (flat floats: ``delta_rot_eV`` and per atom, the autograd and FD norms,
    ``rotation_dE_eV``, ``force_equiv_max_eV_per_A``, ``force_equiv_rms_eV_per_A``),
    ``details`` (matrices, FD ladder, the rotation) and ``timings_s``. Raises
    :class:`NotConvergedError` (with ``partial``) when finite differences are the reported
    method and no two successive steps agree within tolerance.
    """
    if isinstance(model, LoadedModel):
        calculator, energy_fn = model.calculator, model.energy_fn
    else:
        calculator, energy_fn = model, None
    if settings.method == "autograd" and energy_fn is None:
        raise MaterialError("method 'autograd' but the model's adapter has no energy_fn")
    use_autograd = energy_fn is not None and settings.method != "fd"
    n = len(atoms)
    timings: dict[str, float] = {}
    values: dict[str, Any] = {}
    details: dict[str, Any] = {"n_atoms": n}

    _rotation_check(atoms, calculator, settings.rotation_seed, values, details, timings)
    fd = _fd_delta_rot(atoms, calculator, settings, values, details, timings)
    primary = fd.matrix_eV
    if use_autograd:
        assert energy_fn is not None
        t0 = time.perf_counter()
        matrix = delta_rot_autograd(energy_fn(atoms))
        timings["autograd"] = time.perf_counter() - t0
        values["delta_rot_autograd_eV"] = norm(matrix)
        details["autograd"] = {"matrix_eV": matrix.tolist()}
        details["autograd_minus_fd_eV"] = norm(matrix - fd.matrix_eV)
        primary = matrix
    details["method"] = "autograd" if use_autograd else "fd"
    details["delta_rot_components_eV"] = components(primary)
    values["delta_rot_eV"] = norm(primary)
    values["delta_rot_eV_per_atom"] = norm(primary) / n
    result = {"values": values, "details": details, "timings_s": timings}
    if not use_autograd and not fd.converged:
        raise NotConvergedError(
            f"finite differences did not converge: successive steps differ by "
            f"{fd.error_estimate_eV:.3g} eV > tolerance {fd.tolerance_eV:.3g} eV "
            f"(best step {fd.step_rad:g} rad)",
            partial=result,
        )
    return result


def _rotation_check(
    atoms: Atoms,
    calculator: Calculator,
    seed: int,
    values: dict[str, Any],
    details: dict[str, Any],
    timings: dict[str, float],
) -> None:
    """Energy change [eV] and force equivariance error [eV/Å] under one random rotation."""
    t0 = time.perf_counter()
    rotation = random_rotation(seed)
    energy, forces = _forces(atoms, calculator)
    energy_rot, forces_rot = _forces(rotated(atoms, rotation), calculator)
    f_max, f_rms = force_equivariance(forces, forces_rot, rotation)
    values["rotation_dE_eV"] = abs(energy_rot - energy)
    values["rotation_dE_eV_per_atom"] = abs(energy_rot - energy) / len(atoms)
    values["force_equiv_max_eV_per_A"] = f_max
    values["force_equiv_rms_eV_per_A"] = f_rms
    details["energy_eV"] = energy
    details["rotation"] = {"seed": seed, "matrix": rotation.tolist()}
    timings["rotation"] = time.perf_counter() - t0


def _fd_delta_rot(
    atoms: Atoms,
    calculator: Calculator,
    settings: EquigradSettings,
    values: dict[str, Any],
    details: dict[str, Any],
    timings: dict[str, float],
) -> Any:
    """Δrot by finite differences (the step ladder of :func:`delta_rot_fd`), recorded."""
    t0 = time.perf_counter()
    fd = delta_rot_fd(
        atoms,
        calculator,
        settings.fd_steps_rad,
        settings.fd_abs_tol_eV_per_atom,
        settings.fd_rel_tol,
    )
    timings["fd"] = time.perf_counter() - t0
    values["delta_rot_fd_eV"] = norm(fd.matrix_eV)
    details["fd"] = {
        "matrix_eV": fd.matrix_eV.tolist(),
        "step_rad": fd.step_rad,
        "error_estimate_eV": fd.error_estimate_eV,
        "tolerance_eV": fd.tolerance_eV,
        "converged": fd.converged,
        "ladder": fd.ladder,
        "n_energies": fd.n_energies,
    }
    return fd
