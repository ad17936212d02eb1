"""Relaxations of many structures in shared torch-sim batches.

:func:`relax_batch` runs torch-sim's FIRE with the Frechet cell filter (``md_flavor="ase_fire"``,
ASE FIRE's parameters) on many structures at once, following the protocol of
:class:`bench.settings.RelaxSettings` per structure: passes of ``steps_per_pass`` steps (each
pass a fresh FIRE state and cell reference, as bench's ASE path), at most ``max_passes``, the
filtered max force (atoms and cell, as ASE's filter reports it) against ``fmax_eV_per_A``,
divergence above ``explode_force_eV_per_A``, and :func:`bench.physics.relax.accept_relaxation`'s
verdict at the end. With ``fix_symmetry`` each pass starts from ASE's ``refine_symmetry`` and
the forces and stress are symmetrised as ASE's ``FixSymmetry`` does. A structure leaves the
batch when it converges, fails or ends its last pass; a waiting one takes its place.

Each structure's outcome is its own: a :class:`RelaxResult`, or the exception that ended it
(a batch whose model call raises is retried one structure at a time, so only the structure that
raises fails).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from ase import Atoms

from bench.engines.tsmodel import Budget, Float64Driver, Outcome, model_error, to_state
from bench.errors import DivergedError, NonFiniteError
from bench.physics.relax import accept_relaxation
from bench.settings import RelaxSettings


@dataclass
class _Job:
    index: int
    start: Atoms
    current: Atoms  # where the current pass started
    outcome: Outcome = field(default_factory=Outcome)
    steps: int = 0
    passes: int = 0
    pass_steps: int = 0
    symmetry: Any = None
    alone: bool = False  # after a batch that raised: runs in a batch of its own


def _atoms_of(state: Any, b: int, numbers: np.ndarray) -> Atoms:
    """System ``b`` of a torch-sim state as float64 Atoms."""
    mine = (state.system_idx == b).detach().cpu().numpy()
    positions = state.positions.detach().cpu().numpy()[mine]
    cell = state.row_vector_cell[b].detach().cpu().numpy()
    return Atoms(numbers=numbers, positions=positions, cell=cell, pbc=True)


def _filtered_fmax(state: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per system: the max force of ASE's Frechet filter (atomic forces times the deformation
    gradient, rows of the cell force) [eV/Å], and whether every force and stress is finite."""
    grad = state.deform_grad()
    forces = torch.bmm(state.forces.unsqueeze(1), grad[state.system_idx]).squeeze(1)
    n = state.n_systems
    norms = torch.linalg.norm(forces, dim=1)
    atoms_max = torch.zeros(n, dtype=norms.dtype, device=norms.device)
    atoms_max = atoms_max.scatter_reduce(0, state.system_idx, norms, "amax", include_self=False)
    cell_max = torch.linalg.norm(state.cell_forces, dim=2).amax(dim=1)
    fmax = torch.maximum(atoms_max, cell_max).detach().cpu().numpy()
    bad = (~torch.isfinite(state.forces)).any(dim=1).to(torch.float64)
    finite_atoms = torch.zeros(n, dtype=torch.float64, device=bad.device)
    finite_atoms = finite_atoms.scatter_reduce(0, state.system_idx, bad, "amax")
    finite = (finite_atoms == 0) & torch.isfinite(state.stress).all(dim=(1, 2))
    return fmax, (finite & torch.isfinite(state.energy)).detach().cpu().numpy()


class _BatchRelaxer:
    """The in-flight loop of :func:`relax_batch`."""

    def __init__(self, driver: Float64Driver, settings: RelaxSettings, budget: Budget) -> None:
        from torch_sim.optimizers import frechet_cell_fire

        self.driver, self.settings, self.budget = driver, settings, budget
        # ASE FIRE's defaults (dt 0.1, dtmax 1.0, Nmin 5, finc 1.1, fdec 0.5, astart 0.1,
        # fa 0.99, maxstep 0.2 Å) are torch-sim's frechet_cell_fire defaults
        self.init_fn, self.step_fn = frechet_cell_fire(driver, md_flavor="ase_fire")
        limit = settings.explode_force_eV_per_A
        self.limit = np.inf if limit is None else limit
        self.state: Any = None
        self.active: list[_Job] = []

    def run(self, jobs: list[_Job]) -> None:
        queue: deque[_Job] = deque(jobs)
        while queue or self.active:
            new = self._admit(queue)
            if new:
                self._start(new, queue)
            self._check(queue)
            if self.active:
                self._call(lambda: self.step_fn(self.state), self.active, queue, step=True)

    def _admit(self, queue: deque[_Job]) -> list[_Job]:
        """The waiting jobs that fit beside the active ones (one alone after a failed batch)."""
        if any(j.alone for j in self.active):
            return []
        used = sum(self.budget.size(j.current) for j in self.active)
        new: list[_Job] = []
        while queue:
            job = queue[0]
            size = self.budget.size(job.current)
            if job.alone and (self.active or new):
                break
            if (self.active or new) and used + size > self.budget.limit:
                break
            new.append(queue.popleft())
            used += size
            if job.alone:
                break
        return new

    def _start(self, new: list[_Job], queue: deque[_Job]) -> None:
        """A new pass for each of ``new``: symmetry refined (FixSymmetry), a fresh FIRE state
        on the model's first call, appended to the batch."""
        ready = []
        for job in new:
            job.passes += 1
            job.pass_steps = 0
            try:
                job.symmetry = self._symmetry(job.current)
            except Exception as err:  # spglib on a degenerate cell: this material's failure
                job.outcome.result = err
                continue
            ready.append(job)
        if not ready:
            return
        fresh = self._call(
            lambda: self.init_fn(to_state([j.current for j in ready], self.driver.device)),
            ready,
            queue,
            step=False,
        )
        if fresh is None:
            return
        from torch_sim.state import concatenate_states

        self.state = fresh if self.state is None else concatenate_states([self.state, fresh])
        self.active.extend(ready)

    def _symmetry(self, atoms: Atoms) -> Any:
        """``(rotations, translations, symm_map)`` after refining ``atoms`` in place, as ASE's
        FixSymmetry does at each pass; None without ``fix_symmetry``."""
        if not self.settings.fix_symmetry:
            return None
        from ase.spacegroup.symmetrize import prep_symmetry, refine_symmetry

        refine_symmetry(atoms, self.settings.symprec, verbose=False)
        return prep_symmetry(atoms, self.settings.symprec, verbose=False)

    def _call(self, call: Any, jobs: list[_Job], queue: deque[_Job], step: bool) -> Any:
        """One model call over ``jobs`` (``step``: the active batch; else a new state of
        ``jobs``), its time shared by atoms. A call that raises fails its job when alone,
        else sends every job back to restart its pass alone."""
        self.driver.symmetry = [j.symmetry for j in jobs]
        t0 = time.perf_counter()
        try:
            out = call()
        except Exception as err:
            self._failed_call(err, jobs, queue, step)
            return None
        finally:
            self.driver.symmetry = None
        seconds = time.perf_counter() - t0
        total = sum(len(j.start) for j in jobs)
        for job in jobs:
            job.outcome.seconds += seconds * len(job.start) / total
            job.outcome.calls += 1
            if step:
                job.steps += 1
                job.pass_steps += 1
        if step:
            self.state = out
        return out

    def _failed_call(self, err: Exception, jobs: list[_Job], queue: deque[_Job], step: bool):
        if len(jobs) == 1:  # as bench.models.timing.ModelClock words a model that raised
            jobs[0].outcome.result = model_error(err)
        else:  # restart each pass alone: only the structure that raises will fail
            for job in reversed(jobs):
                job.alone = True
                job.steps -= job.pass_steps
                job.passes -= 1
                queue.appendleft(job)
        if step:
            self.state, self.active = None, []

    def _check(self, queue: deque[_Job]) -> None:
        """Take out of the batch what converged, diverged or ended its pass."""
        if not self.active:
            return
        fmax, finite = _filtered_fmax(self.state)
        keep = []
        for b, job in enumerate(self.active):
            verdict = self._verdict(job, float(fmax[b]), bool(finite[b]))
            if verdict is None:
                keep.append(b)
                continue
            atoms = _atoms_of(self.state, b, job.start.numbers)
            if verdict == "next pass":
                job.current = atoms
                queue.appendleft(job)
            elif isinstance(verdict, Exception):
                job.outcome.result = verdict
            else:
                job.outcome.result = self._accept(job, atoms, b, float(fmax[b]))
        if len(keep) < len(self.active):
            self.active = [self.active[b] for b in keep]
            self.state = self.state[keep] if keep else None

    def _verdict(self, job: _Job, fmax: float, finite: bool) -> Any:
        """None (go on), "done", "next pass", or the exception that ends the job."""
        if not finite or not np.isfinite(fmax):
            return NonFiniteError("model returned non-finite forces during relaxation")
        if fmax > self.limit:
            return DivergedError(f"forces above {self.limit:g} eV/Å during relaxation")
        if fmax < self.settings.fmax_eV_per_A:
            return "done"
        if job.pass_steps < self.settings.steps_per_pass:
            return None
        return "next pass" if job.passes < self.settings.max_passes else "done"

    def _accept(self, job: _Job, atoms: Atoms, b: int, fmax: float) -> Any:
        mine = (self.state.system_idx == b).detach().cpu().numpy()
        forces = self.state.forces.detach().cpu().numpy()[mine]
        energy = float(self.state.energy[b])
        try:
            return accept_relaxation(
                job.start, atoms, forces, fmax, energy, self.settings, job.steps, job.passes
            )
        except Exception as err:  # the protocol rejects it: this material's failure
            return err


def relax_batch(
    structures: Sequence[Atoms], driver: Float64Driver, settings: RelaxSettings, budget: Budget
) -> list[Outcome]:
    """Relax every structure (one :class:`Outcome` each, in order; see the module)."""
    jobs = [_Job(i, atoms.copy(), atoms.copy()) for i, atoms in enumerate(structures)]
    for job in jobs:
        job.start.set_constraint()
        job.current.set_constraint()
    _BatchRelaxer(driver, settings, budget).run(jobs)  # forces are energy gradients: no no_grad
    return [job.outcome for job in jobs]
