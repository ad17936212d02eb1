"""What a run checks of its model before the first material: the model's *fingerprint* (energy,
forces and stress on a few fixed small cells: its identity by what it computes, kept in the
manifest) and the fast part of the contract (:mod:`bench.testing`: shapes, finite values,
forces = −dE/dx by finite differences on one cell, stress = (1/V) dE/dε where the task needs
it). Both share the probe cells' evaluations; on EMT the whole costs milliseconds, on a
graph network 14 model calls (4 probes, 6 displaced and 4 strained cells).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import bulk

from bench.errors import BenchError
from bench.models.loaded import LoadedModel
from bench.testing import Check, fd_forces, fd_stress, torch_dtype

#: the noise a fingerprint may show between runs of one model: float64 (EMT, float64 torch
#: models) and float32 (other devices, other thread counts, kernels' summation orders).
#: energy eV/atom, forces eV/Å, stress eV/Å³ (5e-4 eV/Å³ = 0.08 GPa)
NOISE = {"float64": (1e-6, 1e-5, 1e-6), "float32": (5e-4, 5e-3, 5e-4)}


def probe_cells() -> dict[str, Atoms]:
    """The fixed probe cells (2–4 atoms, rattled with fixed seeds): an ionic, an oxide, a
    covalent and a metallic one, so most models evaluate at least one (EMT: CuAu)."""
    cells = {
        "NaCl": bulk("NaCl", "rocksalt", a=5.64),
        "MgO": bulk("MgO", "rocksalt", a=4.21),
        "Si": bulk("Si", "diamond", a=5.43),
        "Cu3Au": bulk("Cu", "fcc", a=3.75, cubic=True),
    }
    cells["Cu3Au"].symbols[0] = "Au"
    for seed, atoms in enumerate(cells.values()):
        atoms.rattle(0.03, seed=seed + 11)
    return cells


def precision(model: LoadedModel) -> str:
    """``float64`` when the model computes in double precision (its dtype, else its torch
    weights'; a model without torch weights is numpy: double), else ``float32``."""
    if model.dtype == "float64":
        return "float64"
    found = torch_dtype(model.calculator)
    return "float64" if model.dtype == "native" and found in (None, "float64") else "float32"


def computed_dtype(model: LoadedModel) -> str:
    """The name of the precision ``model`` computes in: its dtype, or for ``native`` (a factory
    that chose its own) its torch weights' dtype (``float32``, ``bfloat16``...), and
    ``float64`` for a calculator without torch weights (ASE's, EMT's: numpy doubles). A run
    hashes this name into its settings digest, so an own factory of float32 weights and a
    catalogue model run in float32 share their settings."""
    if model.dtype != "native":
        return model.dtype
    return torch_dtype(model.calculator) or "float64"


def _evaluate(model: LoadedModel, atoms: Atoms) -> dict[str, Any]:
    """Energy, forces, stress of ``atoms`` (stress None when the model has none), or the error."""
    atoms = atoms.copy()
    atoms.calc = model.calculator
    try:
        out: dict[str, Any] = {
            "energy_eV": float(atoms.get_potential_energy()),
            "forces_eV_per_A": np.asarray(atoms.get_forces(), dtype=float).tolist(),
        }
    except Exception as err:  # an element the model does not know, or a broken model
        return {"error": f"{type(err).__name__}: {str(err).strip()[:160]}"}
    try:
        out["stress_eV_per_A3"] = np.asarray(atoms.get_stress(), dtype=float).tolist()
    except Exception as err:  # PropertyNotImplementedError, most often
        out["stress_eV_per_A3"] = None
        out["stress_error"] = f"{type(err).__name__}: {str(err).strip()[:160]}"
    return out


def fingerprint(model: LoadedModel) -> dict[str, Any]:
    """The model's outputs on :func:`probe_cells`, with the precision they were computed in
    (``precision``: float64 or float32, ``dtype``: :func:`computed_dtype`) and its device."""
    probes = {}
    for name, atoms in probe_cells().items():
        probes[name] = {"n_atoms": len(atoms), **_evaluate(model, atoms)}
    return {
        "precision": precision(model),
        "dtype": computed_dtype(model),
        "device": model.device,
        "probes": probes,
    }


#: the largest cell of a run's own material the check evaluates (atoms)
MAX_MATERIAL_CELL_ATOMS = 200


def material_cells(dataset: str, material_ids: list[str], data_dir: Any = None) -> dict:
    """Cells of a run's own materials (their reference structures of at most
    :data:`MAX_MATERIAL_CELL_ATOMS` atoms, rattled as the probe cells are), for a model that
    evaluates none of :func:`probe_cells`; a material that cannot be read is left out (it is
    that material's failure later)."""
    from bench.datasets import load_structure

    cells = {}
    for seed, material_id in enumerate(material_ids):
        try:
            atoms = load_structure(dataset, material_id, data_dir)[0]
        except (BenchError, OSError, ValueError):  # missing or damaged: its failure later
            continue
        if 0 < len(atoms) <= MAX_MATERIAL_CELL_ATOMS:
            atoms.rattle(0.03, seed=seed + 31)
            cells[material_id] = atoms
    return cells


def material_fallback(
    dataset: str | None, material_ids: list[str] | None, data_dir: Any = None
) -> Callable[[], dict[str, Atoms]] | None:
    """The ``fallback`` of :func:`quick_check` for a run: :func:`material_cells` of its first
    materials, read only when asked (``None`` when the run names no materials)."""
    if not dataset or not material_ids:
        return None
    where = Path(data_dir) if data_dir else None
    return lambda: material_cells(dataset, list(material_ids), where)


def quick_check(
    model: LoadedModel,
    probes: dict[str, Any],
    stress_use: dict[str, str],
    fallback: Callable[[], dict[str, Atoms]] | None = None,
) -> list:
    """The fast contract checks on the probes' outputs and the first probe cell the model
    evaluates. ``stress_use``: task -> why it needs stress (tasks that do not: left out).
    A model that evaluates no probe cell (other elements, or a model that raises on every
    cell) is checked on the cells ``fallback`` gives (the run's first materials,
    :func:`material_cells`); when it evaluates none of those either, the check fails with
    what it raised (without ``fallback``'s cells, none of them readable or small enough:
    not judged)."""
    cells = probe_cells()
    done = {n: p for n, p in probes.items() if "error" not in p}
    extra = fallback() if not done and fallback is not None else {}
    if extra:
        cells.update(extra)
        tried = {name: {"n_atoms": len(a), **_evaluate(model, a)} for name, a in extra.items()}
        probes = {**probes, **tried}
        done = {n: p for n, p in tried.items() if "error" not in p}
    if not done:
        name = "evaluates a probe cell" + (" or a material of the run" if extra else "")
        if not extra:  # elements outside the probes', and no material of the run to try
            return [Check(name, None, _errors(probes), "none of its elements?")]
        return [Check(name, False, _errors(probes), "one at least")]
    checks = [_shapes(done)]
    name = next(iter(done))
    atoms, out = cells[name], done[name]
    exact = precision(model) == "float64"
    rel, h, d = (1e-3, 1e-3, 1e-4) if exact else (2e-2, 1e-2, 1e-3)
    forces = np.asarray(out["forces_eV_per_A"])
    try:
        error = float(np.abs(forces[:1] - fd_forces(model, atoms, h, n=1)).max())
    except Exception as err:
        checks.append(Check(f"forces = −dE/dx ({name})", False, _text(err), ""))
    else:
        tol = 1e-6 + rel * float(np.abs(forces).max())
        checks.append(_judged(f"forces = −dE/dx ({name})", error, tol, "eV/Å"))
    checks.append(_stress(model, atoms, out, stress_use, rel, d))
    return checks


def _errors(probes: dict[str, Any]) -> str:
    """What each cell raised, cells with the same error together (``boom (NaCl, MgO)``)."""
    cells: dict[str, list[str]] = {}
    for name, out in probes.items():
        cells.setdefault(out["error"], []).append(name)
    return "; ".join(f"{error} ({', '.join(names)})" for error, names in cells.items())[:300]


def _shapes(done: dict[str, Any]) -> Check:
    """Energy a float, forces (n, 3), stress (6,) where given, every value finite."""
    name = "energy, forces, stress: shapes, finite"
    for cell, out in done.items():
        forces = np.asarray(out["forces_eV_per_A"], dtype=float)
        stress = out.get("stress_eV_per_A3")
        values = [out["energy_eV"], *forces.ravel(), *(stress or [])]
        shapes = forces.shape == (out["n_atoms"], 3) and (stress is None or len(stress) == 6)
        finite = bool(np.isfinite(values).all())
        if not shapes or not finite:
            size = "none" if stress is None else len(stress)
            value = f"{cell}: forces {forces.shape}, stress {size}, finite {finite}"
            return Check(name, False, value, "(n, 3), (6,), finite")
    return Check(name, True, "(n, 3), (6,)", "")


def _stress(
    model: LoadedModel,
    atoms: Atoms,
    out: dict[str, Any],
    stress_use: dict[str, str],
    rel: float,
    d: float,
) -> Check:
    """Stress present where a task needs it (saying which and why), and = (1/V) dE/dε."""
    name = "stress = (1/V) dE/dε"
    needs = "; ".join(f"{task} needs it: {why}" for task, why in stress_use.items())
    if out.get("stress_eV_per_A3") is None:
        value = f"no stress ({out.get('stress_error', 'none given')})"
        return Check("stress present", False if stress_use else None, value, needs or "not used")
    if not stress_use:
        return Check(name, None, "not used by this task", "")
    stress = np.asarray(out["stress_eV_per_A3"])
    try:
        fd = np.array([fd_stress(model, atoms, d, v) for v in (0, 5)])
    except Exception as err:
        return Check(name, False, _text(err), "")
    tol = 1e-7 + 5 * rel * float(np.abs(stress).max())
    return _judged(name, float(np.abs(stress[[0, 5]] - fd).max()), tol, "eV/Å³")


def _judged(name: str, error: float, tolerance: float, unit: str) -> Check:
    passed = bool(error <= tolerance)  # NaN fails
    return Check(name, passed, f"{error:.3g} {unit}", f"≤ {tolerance:.3g} {unit}")


def _text(err: Exception) -> str:
    return f"{type(err).__name__}: {str(err).strip()[:160]}"


def probe(
    model: LoadedModel,
    stress_use: dict[str, str],
    check: bool = True,
    fallback: Callable[[], dict[str, Atoms]] | None = None,
) -> dict[str, Any]:
    """The fingerprint and (``check``) the quick checks (``fallback``: :func:`quick_check`),
    as plain JSON values (they travel from a worker in another environment); ``on_materials``:
    whether the check needed ``fallback``'s cells."""
    found = fingerprint(model)
    checks = quick_check(model, found["probes"], stress_use, fallback) if check else []
    rows = [dataclasses.asdict(c) for c in checks]
    # on_materials: no probe cell evaluates, so the check (made or not) is that run's alone
    none = all("error" in p for p in found["probes"].values())
    return {"fingerprint": found, "checks": rows, "on_materials": bool(check and fallback and none)}


def fingerprint_change(before: dict[str, Any] | None, now: dict[str, Any]) -> str | None:
    """What differs between two fingerprints beyond the noise of the coarser precision (in
    words), or None. A missing ``before`` (records made before fingerprints) is unknown: None."""
    if not before or not before.get("probes"):
        return None
    same = before.get("precision") == now.get("precision") == "float64"
    noise = NOISE["float64" if same else "float32"]
    for name, old in before["probes"].items():
        new = now.get("probes", {}).get(name, {"error": "not evaluated"})
        change = _probe_change(old, new, noise)
        if change:
            return f"probe {name}: {change}"
    return None


def _probe_change(old: dict[str, Any], new: dict[str, Any], noise: tuple) -> str | None:
    """The first of energy, forces, stress of one probe that moved beyond ``noise``."""
    if ("error" in old) != ("error" in new):
        return f"{old.get('error') or 'evaluated'}, now {new.get('error') or 'evaluated'}"
    if "error" in old:
        return None
    tol_e, tol_f, tol_s = noise
    if abs(old["energy_eV"] - new["energy_eV"]) / max(int(old["n_atoms"]), 1) > tol_e:
        return f"energy {old['energy_eV']:.6g} eV, now {new['energy_eV']:.6g} eV"
    df = float(np.abs(np.subtract(old["forces_eV_per_A"], new["forces_eV_per_A"])).max())
    if not df <= tol_f:
        return f"forces differ by up to {df:.3g} eV/Å"
    s_old, s_new = old.get("stress_eV_per_A3"), new.get("stress_eV_per_A3")
    if (s_old is None) != (s_new is None):
        return "stress given, now none" if s_new is None else "no stress, now one"
    ds = 0.0 if s_old is None else float(np.abs(np.subtract(s_old, s_new)).max())
    return f"stress differs by up to {ds:.3g} eV/Å³" if not ds <= tol_s else None
