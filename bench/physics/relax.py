"""Symmetry-constrained cell relaxation, as MDR's ``umlip.relax_structure`` runs it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import ase.optimize
import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.constraints import FixSymmetry
from ase.filters import FrechetCellFilter

from bench.errors import DivergedError, NonFiniteError, NotConvergedError
from bench.models.loaded import LoadedModel
from bench.models.timing import model_clock
from bench.physics.relax_parts import FastFixSymmetry, FastFrechetCellFilter
from bench.settings import OPTIMIZERS, RelaxSettings

#: the classes of the optimizer names settings accept (bench.settings.OPTIMIZERS, the one list)
_OPTIMIZERS = {name: getattr(ase.optimize, name) for name in OPTIMIZERS}
#: ASE's FrechetCellFilter and FixSymmetry, computed faster (bench.physics.relax_parts)
_FILTERS = {"FrechetCellFilter": FastFrechetCellFilter}
_SYMMETRY = FastFixSymmetry


@dataclass
class RelaxResult:
    """Relaxed structure (no calculator, no constraint) and how the relaxation went."""

    atoms: Atoms
    steps: int
    passes: int
    fmax_eV_per_A: float  # final max force the acceptance test read (settings.accept_on)
    energy_eV: float
    volume_change: float  # V_relaxed / V_start - 1


def _max_force(forces: np.ndarray) -> float:
    if not np.all(np.isfinite(forces)):
        raise NonFiniteError("model returned non-finite forces during relaxation")
    return float(np.sqrt((forces**2).sum(axis=1).max()))


def relax(atoms: Atoms, calculator: Calculator, settings: RelaxSettings) -> RelaxResult:
    """Relax positions and cell with symmetry fixed.

    FIRE to ``settings.fmax_eV_per_A`` in passes of ``steps_per_pass`` (at most ``max_passes``,
    each pass a fresh optimizer and symmetry constraint, as MDR). Raises
    :class:`DivergedError` when a force exceeds ``explode_force_eV_per_A`` and
    :class:`NotConvergedError` when the final max force (cell included) is above
    ``accept_fmax_eV_per_A``.

    A calculator with a ``replayed_relaxation(atoms, settings)`` method (a batched engine's
    replay, :class:`bench.engines.replay.ReplayCalculator`) returns the relaxation its
    engine already ran for ``atoms`` instead.
    """
    replayed = getattr(calculator, "replayed_relaxation", None)
    if replayed is not None:
        return replayed(atoms, settings)
    work = atoms.copy()
    work.set_constraint()
    work.calc = calculator
    limit = settings.explode_force_eV_per_A
    if limit is None:  # no bound (MatCalc): NaN forces still fail in _max_force
        limit = np.inf

    steps, passes, fmax = _run_passes(work, settings, limit)
    forces = work.get_forces() if settings.accept_on == "atoms" else None
    return accept_relaxation(
        atoms, work, forces, fmax, work.get_potential_energy(), settings, steps, passes
    )


def accept_relaxation(
    start: Atoms,
    final: Atoms,
    atoms_forces: np.ndarray | None,
    filtered_fmax: float,
    energy_eV: float,
    settings: RelaxSettings,
    steps: int,
    passes: int,
) -> RelaxResult:
    """The protocol's verdict on a finished relaxation, for every engine: DivergedError for a
    collapsed cell, NotConvergedError above ``accept_fmax_eV_per_A`` (on the filtered max
    force, or on ``atoms_forces`` [eV/Å] when ``accept_on`` is ``atoms``), NonFiniteError for
    a non-finite energy; else the relaxed structure (no calculator, no constraint)."""
    v0 = start.get_volume()
    if not np.isfinite(final.get_volume()) or final.get_volume() <= 0.05 * v0:
        raise DivergedError("cell collapsed during relaxation")
    fmax = filtered_fmax
    if settings.accept_on == "atoms":  # else "filtered" (RelaxSettings validates it)
        fmax = _max_force(np.asarray(atoms_forces))
    accept = settings.accept_fmax_eV_per_A
    if accept is not None and fmax > accept:
        raise NotConvergedError(
            f"max force {fmax:.4g} eV/Å ({settings.accept_on}) > "
            f"{settings.accept_fmax_eV_per_A} eV/Å after {steps} steps in {passes} passes"
        )
    energy = float(energy_eV)
    if not np.isfinite(energy):
        raise NonFiniteError("model returned a non-finite energy")
    relaxed = Atoms(
        symbols=final.get_chemical_symbols(),
        cell=final.get_cell(),
        scaled_positions=final.get_scaled_positions(),
        pbc=True,
    )
    return RelaxResult(
        atoms=relaxed,
        steps=steps,
        passes=passes,
        fmax_eV_per_A=fmax,
        energy_eV=energy,
        volume_change=float(relaxed.get_volume() / v0 - 1.0),
    )


@contextmanager
def ase_parts() -> Iterator[None]:
    """Relaxations in this block use ASE's own ``FrechetCellFilter`` and ``FixSymmetry``
    (the same numbers, slower: ``bench speed pipeline --relax-parts ase`` measures both)."""
    global _FILTERS, _SYMMETRY
    before = _FILTERS, _SYMMETRY
    _FILTERS, _SYMMETRY = {"FrechetCellFilter": FrechetCellFilter}, FixSymmetry
    try:
        yield
    finally:
        _FILTERS, _SYMMETRY = before


def timed_relax(
    atoms: Atoms, model: LoadedModel, settings: RelaxSettings
) -> tuple[RelaxResult, dict[str, float]]:
    """:func:`relax` with the model's calculator, and its seconds: ``relax`` (wall) and
    ``relax_model`` (inside the model), so the harness's cost per step is
    ``(relax - relax_model) / steps``."""
    t0 = time.perf_counter()
    with model_clock(model) as clock:
        result = relax(atoms, model.calculator, settings)
    return result, {"relax": time.perf_counter() - t0, "relax_model": clock.seconds}


def _run_passes(work: Atoms, settings: RelaxSettings, limit: float) -> tuple[int, int, float]:
    """The optimiser passes on ``work`` (in place): (steps, passes, max force in eV/Å of the
    filtered system, cell included); DivergedError above ``limit``."""
    optimizer_cls = _OPTIMIZERS[settings.optimizer]
    filter_cls = _FILTERS[settings.cell_filter]

    def guard(system) -> None:
        if _max_force(system.get_forces()) > limit:
            raise DivergedError(f"forces above {limit:g} eV/Å during relaxation")

    steps, passes, fmax = 0, 0, np.inf
    for passes in range(1, settings.max_passes + 1):
        if settings.fix_symmetry:
            work.set_constraint(_SYMMETRY(work, symprec=settings.symprec))
        system = filter_cls(work)
        optimizer = optimizer_cls(system, logfile=None)
        optimizer.insert_observer(guard, system=system)
        optimizer.run(fmax=settings.fmax_eV_per_A, steps=settings.steps_per_pass)
        steps += optimizer.nsteps
        fmax = _max_force(system.get_forces())
        if fmax < settings.fmax_eV_per_A:
            break
        if fmax > limit:
            raise DivergedError(f"forces above {limit:g} eV/Å after relaxation pass {passes}")
    return steps, passes, fmax
