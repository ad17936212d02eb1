"""Where a pipeline's wall time goes: ``bench speed pipeline|batch|matcalc``.

- ``pipeline``: runs the phonon or elastic task on a subset, one material after another in
  this process, with a clock around every model call (the calculator's ``calculate`` and the
  batched force call). Per material: wall time, time inside the model, phonopy / strain-fit
  time, the rest (optimiser and symmetry bookkeeping, I/O), peak RSS. Materials per hour
  follow from the wall time of one worker.
- ``batch``: the displaced supercells of each material's reference unit cell through the
  model batched and one by one (one warm-up), the speed-up and the largest force difference.
- ``matcalc`` (:mod:`bench.speed.matcalc_loop`): matcalc's own calculator loop on the same
  model and materials, for a side-by-side with ``pipeline``.

Everything runs in one process, threaded as a one-worker ``bench run`` (torch on all cores, one
BLAS thread), so the split is exact; ``--threads`` sets torch's threads.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.batching import MAX_BATCH_ATOMS
from bench.models import LoadedModel, load_model
from bench.models.timing import peak_rss_mb
from bench.physics.relax import ase_parts
from bench.run.config import RunConfig, as_path, prepare
from bench.run.threads import set_threads
from bench.settings import PhononSettings
from bench.tasks import TASKS, Material, run_one

#: the task whose displaced supercells ``time_batching`` times (phonopy's, PhononSettings)
PHONON_TASK = next(name for name, task in TASKS.items() if task.settings_cls is PhononSettings)


@dataclass(frozen=True)
class Target:
    """What a speed measurement runs: a model on the first ``limit`` materials of a subset
    (or on its given ``materials``), with ``bench run``'s effective settings; ``threads``:
    torch threads (None: all cores)."""

    model: str
    task: str
    subset: str
    limit: int | None = None
    materials: tuple[str, ...] | None = None  # explicit ids within the subset
    data_dir: str | None = None
    checkpoint: str | None = None
    dtype: str | None = None
    threads: int | None = None
    protocol: str | None = None  # None: the data set's source's, as bench run

    def prepare(self) -> tuple[LoadedModel, str, list[str], Any]:
        """The loaded model, data set, material ids and settings exactly as ``bench run``
        would use them (:func:`bench.run.config.prepare`: effective dtype, supercell rule),
        threaded as a one-worker ``bench run``."""
        config = RunConfig(
            model=self.model,
            task=self.task,
            subset=self.subset,
            materials=tuple(self.materials) if self.materials else None,
            limit=self.limit,
            data_dir=self.data_dir,
            checkpoint=self.checkpoint,
            dtype=self.dtype,
            protocol=self.protocol,
        )
        _, dataset, ids, settings = prepare(config)
        set_threads(self.threads or os.cpu_count() or 1)
        dtype = getattr(settings, "dtype", self.dtype)
        loaded = load_model(self.model, checkpoint=self.checkpoint, dtype=dtype)
        return loaded, dataset, ids, settings

    @property
    def data_path(self) -> Path | None:
        """``data_dir`` as a Path."""
        return as_path(self.data_dir)


def _per_step(record: dict[str, Any]) -> dict[str, Any]:
    """The relaxation's steps and the harness's cost per step [ms]: its wall time outside the
    model (FIRE, the cell filter, the symmetry constraint, conversions) over its steps."""
    timings = record["timings_s"] or {}
    steps = ((record.get("details") or {}).get("relax") or {}).get("steps")
    if not steps or timings.get("relax_model") is None:
        return {"relax_steps": steps, "relax_model_s": None, "harness_ms_per_step": None}
    outside = timings["relax"] - timings["relax_model"]
    return {
        "relax_steps": steps,
        "relax_model_s": timings["relax_model"],
        "harness_ms_per_step": 1000.0 * outside / steps,
    }


def time_pipeline(
    batch: bool = True, relax_parts: str = "bench", **target: Any
) -> list[dict[str, Any]]:
    """One row per material: wall, model, stage and harness seconds of the task's pipeline
    (the same ``run_one`` the runner calls), with default settings for the task; ``target``:
    the fields of :class:`Target`; ``relax_parts``: ``bench`` (what runs) or ``ase`` (ASE's
    own cell filter and symmetry constraint, :func:`bench.physics.relax.ase_parts`)."""
    what = Target(**target)
    task, subset = what.task, what.subset
    loaded, dataset, ids, settings = what.prepare()
    rows = []
    for material_id in ids:
        material = Material(dataset, material_id, what.data_path)
        with ase_parts() if relax_parts == "ase" else contextlib.nullcontext():
            record = run_one(task, loaded, material, settings, batch)
        timings = record["timings_s"]  # "model": seconds inside the model (run_one's clock)
        wall = record["wall_s"]
        rows.append(
            {
                "model": loaded.key,
                "dtype": loaded.dtype,
                "task": task,
                "subset": subset,
                "protocol": settings.protocol,
                "material_id": material_id,
                "status": record["status"],
                "batch": batch,
                "relax_parts": relax_parts,
                "n_atoms": ((record.get("details") or {}).get("n_atoms_supercell")),
                "wall_s": wall,
                "model_s": timings["model"],
                "model_calls": timings["model_calls"],
                "relax_s": timings.get("relax"),
                **_per_step(record),
                "forces_s": timings.get("forces"),
                "phonopy_s": timings.get("phonopy"),
                "strain_fit_s": timings.get("strain_fit"),
                "harness_s": wall - timings["model"],
                "other_s": wall - timings["model"] - timings.get("phonopy", 0.0),
                "peak_rss_MB": peak_rss_mb(),
                **(record.get("values") or {}),
            }
        )
    return rows


def displaced_supercells(
    dataset: str, material_id: str, settings: Any, data_dir: str | None
) -> list:
    """The phonopy displaced supercells (ASE Atoms) of a material's reference unit cell."""
    from bench.datasets import load_phonon_reference
    from bench.physics.phonons import build_phonopy, to_ase_atoms

    ref = load_phonon_reference(dataset, material_id, as_path(data_dir))
    ph = build_phonopy(ref.unit_cell, ref, settings)
    ph.generate_displacements(distance=settings.displacement_A, is_diagonal=settings.is_diagonal)
    return [to_ase_atoms(sc) for sc in ph.supercells_with_displacements]


def time_batching(max_batch_atoms: int | None = None, **target: Any) -> list[dict[str, Any]]:
    """One row per material: its displaced supercells through the model batched and one by
    one (after one warm-up call each), seconds, speed-up and max |ΔF| (eV/Å); ``target``:
    the fields of :class:`Target` (the task is phonons)."""
    what = Target(**{**target, "task": PHONON_TASK})
    subset, data_dir = what.subset, what.data_dir
    loaded, dataset, ids, settings = what.prepare()
    if loaded.batch_forces is None:
        raise ValueError(f"{loaded.key} has no batched force path")
    cap = max_batch_atoms or MAX_BATCH_ATOMS
    rows = []
    for material_id in ids:
        cells = displaced_supercells(dataset, material_id, settings, data_dir)
        warm = cells[0].copy()
        warm.rattle(1e-3, seed=0)  # warm-up both paths on a cell that is not timed
        loaded.forces([warm, warm], batch=True, max_batch_atoms=cap)
        loaded.forces([warm], batch=False)
        loaded.calculator.reset()  # nothing timed may come from the calculator's cache
        start = time.perf_counter()
        batched = loaded.forces(cells, batch=True, max_batch_atoms=cap)
        batched_s = time.perf_counter() - start
        start = time.perf_counter()
        loaded.calculator.reset()
        single = loaded.forces(cells, batch=False)
        single_s = time.perf_counter() - start
        diff = max(float(np.abs(a - b).max()) for a, b in zip(batched, single, strict=True))
        rows.append(
            {
                "model": loaded.key,
                "dtype": loaded.dtype,
                "subset": subset,
                "material_id": material_id,
                "n_supercells": len(cells),
                "n_atoms": len(cells[0]),
                "max_batch_atoms": cap,
                "batched_s": batched_s,
                "one_by_one_s": single_s,
                "speedup": single_s / batched_s,
                "max_force_diff_eV_per_A": diff,
                "peak_rss_MB": peak_rss_mb(),
            }
        )
    return rows
