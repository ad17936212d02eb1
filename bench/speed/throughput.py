"""Where a pipeline's wall time goes: ``bench speed pipeline|batch|matcalc``.

- ``pipeline``: runs the phonon or elastic task on a subset, one material after another in
  this process, with a clock around every model call (the calculator's ``calculate`` and the
  batched force call). Per material: wall time, time inside the model, phonopy / strain-fit
  time, the rest (optimiser and symmetry bookkeeping, I/O), peak RSS. Materials per hour
  follow from the wall time of one worker.
- ``batch``: the displaced supercells of each material's reference unit cell through the
  model batched and one by one (one warm-up), the speed-up and the largest force difference.
- ``matcalc``: matcalc's own calculator loop (``ElasticityCalc`` with its relaxation, or
  ``PhononCalc``) on the same model and materials, for a side-by-side with ``pipeline``.

Everything runs in one process, threaded as a one-worker ``bench run`` (torch on all cores, one
BLAS thread), so the split is exact; ``--threads`` sets torch's threads.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.models import LoadedModel
from bench.models.timing import model_clock, peak_rss_mb


def _prepare(
    model: str,
    task: str,
    subset: str,
    limit: int | None,
    data_dir: str | None,
    checkpoint: str | None,
    dtype: str | None,
    threads: int | None,
) -> tuple[LoadedModel, str, list[str], Any]:
    """The loaded model, data set, material ids and settings exactly as ``bench run`` would
    use them (``bench.run.runner.prepare``: effective dtype, supercell rule)."""
    from bench.models import load_model
    from bench.run.runner import RunConfig, prepare
    from bench.run.threads import set_threads

    config = RunConfig(
        model=model,
        task=task,
        subset=subset,
        limit=limit,
        data_dir=data_dir,
        checkpoint=checkpoint,
        dtype=dtype,
    )
    _, dataset, ids, settings = prepare(config)
    set_threads(threads or os.cpu_count() or 1)  # as a one-worker `bench run`
    loaded = load_model(model, checkpoint=checkpoint, dtype=getattr(settings, "dtype", dtype))
    return loaded, dataset, ids, settings


def time_pipeline(
    model: str,
    task: str,
    subset: str,
    limit: int | None = None,
    data_dir: str | None = None,
    checkpoint: str | None = None,
    dtype: str | None = None,
    threads: int | None = None,
    batch: bool = True,
) -> list[dict[str, Any]]:
    """One row per material: wall, model, stage and harness seconds of the ``task`` pipeline
    (the same ``run_one`` the runner calls), with default settings for the task."""
    from bench.tasks import run_one

    loaded, dataset, ids, settings = _prepare(
        model, task, subset, limit, data_dir, checkpoint, dtype, threads
    )
    rows = []
    for material_id in ids:
        record = run_one(task, loaded, dataset, material_id, settings, _path(data_dir), batch=batch)
        timings = record["timings_s"]  # "model": seconds inside the model (run_one's clock)
        wall = record["wall_s"]
        stage = timings.get("phonopy", timings.get("strain_fit", 0.0))
        rows.append(
            {
                "model": loaded.key,
                "dtype": loaded.dtype,
                "task": task,
                "subset": subset,
                "material_id": material_id,
                "status": record["status"],
                "batch": batch,
                "n_atoms": ((record.get("details") or {}).get("n_atoms_supercell")),
                "wall_s": wall,
                "model_s": timings["model"],
                "model_calls": timings["model_calls"],
                "relax_s": timings.get("relax"),
                "forces_s": timings.get("forces"),
                "phonopy_s": timings.get("phonopy"),
                "strain_fit_s": timings.get("strain_fit"),
                "harness_s": wall - timings["model"],
                "other_s": wall - timings["model"] - (stage if task == "phonons" else 0.0),
                "peak_rss_MB": peak_rss_mb(),
            }
        )
    return rows


def displaced_supercells(
    dataset: str, material_id: str, settings: Any, data_dir: str | None
) -> list:
    """The phonopy displaced supercells (ASE Atoms) of a material's reference unit cell."""
    from bench.datasets import load_phonon_reference
    from bench.physics.phonons import build_phonopy, to_ase_atoms

    ref = load_phonon_reference(dataset, material_id, _path(data_dir))
    ph = build_phonopy(ref.unit_cell, ref, settings)
    ph.generate_displacements(distance=settings.displacement_A, is_diagonal=settings.is_diagonal)
    return [to_ase_atoms(sc) for sc in ph.supercells_with_displacements]


def time_batching(
    model: str,
    subset: str,
    limit: int | None = None,
    data_dir: str | None = None,
    checkpoint: str | None = None,
    dtype: str | None = None,
    threads: int | None = None,
    max_batch_atoms: int | None = None,
) -> list[dict[str, Any]]:
    """One row per material: its displaced supercells through the model batched and one by
    one (after one warm-up call each), seconds, speed-up and max |ΔF| (eV/Å)."""
    from bench.batching import MAX_BATCH_ATOMS

    loaded, dataset, ids, settings = _prepare(
        model, "phonons", subset, limit, data_dir, checkpoint, dtype, threads
    )
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


def time_matcalc(
    model: str,
    task: str,
    subset: str,
    limit: int | None = None,
    data_dir: str | None = None,
    checkpoint: str | None = None,
    dtype: str | None = None,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """One row per material: matcalc's own loop on the same model and structures.

    elasticity: ``ElasticityCalc`` with its own relaxation (FIRE, fmax 0.05 eV/Å as the MatCalc
    benchmark) and the strains of :class:`ElasticSettings`. phonons: ``PhononCalc`` with its
    defaults (its own relaxation, 20 Å supercell rule), nothing written to disk.
    """
    from bench.datasets import load_structure
    from bench.physics.elasticity import ElasticSettings

    loaded, dataset, ids, _ = _prepare(
        model, task, subset, limit, data_dir, checkpoint, dtype, threads
    )
    from matcalc import ElasticityCalc, PhononCalc  # import late: probes the network

    if task == "elasticity":
        es = ElasticSettings()
        calc = ElasticityCalc(
            loaded.calculator,
            norm_strains=es.norm_strains,
            shear_strains=es.shear_strains,
            fmax=es.relax.fmax_eV_per_A,
            symmetry=es.symmetry,
            relax_structure=True,
            relax_deformed_structures=es.relax_deformed_structures,
            use_equilibrium=es.use_equilibrium,
            units_GPa=True,
            relax_calc_kwargs={"max_steps": es.relax.steps_per_pass},
            r2_min=-1.0,
        )
    elif task == "phonons":
        calc = PhononCalc(loaded.calculator, write_phonon=False)
    else:
        raise ValueError(f"matcalc has no loop for task {task!r}")
    rows = []
    for material_id in ids:
        structure, _, _ = load_structure(dataset, material_id, _path(data_dir))
        status = "ok"
        with model_clock(loaded) as clock:
            start = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    calc.calc(structure)
            except Exception as err:  # timing only: record and go on
                status = f"failed: {type(err).__name__}"
            wall = time.perf_counter() - start
        rows.append(
            {
                "model": loaded.key,
                "dtype": loaded.dtype,
                "task": task,
                "subset": subset,
                "material_id": material_id,
                "status": status,
                "wall_s": wall,
                "model_s": clock.seconds,
                "model_calls": clock.calls,
                "harness_s": wall - clock.seconds,
                "peak_rss_MB": peak_rss_mb(),
            }
        )
    return rows


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def pipeline_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (model, task, subset, batch): materials, ok, materials/hour for one worker, model
    share of wall time and harness overhead (%), median seconds per material, peak RSS."""
    groups = frame.groupby(["model", "task", "subset", "batch"], sort=False)
    return groups.apply(
        lambda g: pd.Series(
            {
                "materials": len(g),
                "ok": int((g["status"] == "ok").sum()),
                "materials_per_hour": 3600 * len(g) / g["wall_s"].sum(),
                "median_s_per_material": g["wall_s"].median(),
                "model_share_pct": 100 * g["model_s"].sum() / g["wall_s"].sum(),
                "harness_pct": 100 * g["harness_s"].sum() / g["wall_s"].sum(),
                "phonopy_pct": 100 * g["phonopy_s"].fillna(0).sum() / g["wall_s"].sum(),
                "peak_rss_MB": g["peak_rss_MB"].max(),
            }
        ),
        include_groups=False,
    ).reset_index()


def plot_pipeline(pipeline: pd.DataFrame | None, batching: pd.DataFrame | None, png: Path) -> Path:
    """Left: where a material's wall time goes (model / phonopy / rest), per model, task and
    batch mode (latest rows). Right: batched vs one-by-one speed-up against supercell size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=120)
    if pipeline is not None and len(pipeline):
        keys = ["model", "task", "subset", "batch"]
        latest = pipeline.drop_duplicates([*keys, "material_id"], keep="last")
        parts = latest.assign(phonopy_s=latest["phonopy_s"].fillna(0.0))
        sums = parts.groupby(keys, sort=False)[["wall_s", "model_s", "phonopy_s"]].sum()
        labels = [f"{m} {t}\n{s}{'' if b else ' (1-by-1)'}" for m, t, s, b in sums.index]
        model = 100 * sums["model_s"] / sums["wall_s"]
        phonopy = 100 * sums["phonopy_s"] / sums["wall_s"]
        rest = 100 - model - phonopy
        y = np.arange(len(sums))
        left.barh(y, model, label="inside the model")
        left.barh(y, phonopy, left=model, label="phonopy")
        left.barh(y, rest, left=model + phonopy, label="harness (relax bookkeeping, fit, I/O)")
        left.set_yticks(y, labels, fontsize=7)
        left.set_xlabel("% of wall time")
        left.legend(fontsize=6, loc="lower left")
    left.set_title("pipeline wall time split", fontsize=9)
    if batching is not None and len(batching):
        latest = batching.drop_duplicates(["model", "dtype", "material_id"], keep="last")
        for (model, dtype), group in latest.groupby(["model", "dtype"]):
            right.plot(group["n_atoms"], group["speedup"], "o", label=f"{model} {dtype}")
        right.axhline(1.0, color="grey", lw=0.8)
        right.set_xscale("log")
        right.set_xlabel("atoms per displaced supercell")
        right.set_ylabel("one-by-one / batched time")
        right.legend(fontsize=6)
    right.set_title("batched displacements speed-up", fontsize=9)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png


def rss_mb() -> float:
    """Current resident memory of this process (MB), from /proc (Linux) or peak RSS."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def client_memory(
    model: str,
    task: str,
    subset: str,
    out_dir: str,
    workers: int = 2,
    every: int = 100,
    data_dir: str | None = None,
) -> list[dict[str, Any]]:
    """The client's resident memory (MB) every ``every`` records of a real ``bench run``
    (local pool, a fresh store in ``out_dir``): flat if records stream to the store."""
    from bench.run.runner import RunConfig, run

    rows = [{"records": 0, "client_rss_MB": rss_mb()}]
    count = 0

    def sample(record: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        if count % every == 0:
            rows.append({"records": count, "client_rss_MB": rss_mb()})

    config = RunConfig(
        model=model,
        task=task,
        subset=subset,
        workers=workers,
        data_dir=data_dir,
        out_dir=out_dir,
        progress=False,
    )
    run(config, on_record=sample)
    rows.append({"records": count, "client_rss_MB": rss_mb()})
    return [
        {"model": model, "task": task, "subset": subset, "workers": workers, **row} for row in rows
    ]
