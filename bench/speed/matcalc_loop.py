"""``bench speed matcalc``: matcalc's own calculator loop (``ElasticityCalc`` with its
relaxation, or ``PhononCalc``) on the same model and materials as ``bench speed pipeline``."""

from __future__ import annotations

import time
import warnings
from typing import Any

from bench.datasets import load_structure
from bench.models import LoadedModel
from bench.models.timing import model_clock, peak_rss_mb
from bench.physics.elasticity import ElasticSettings
from bench.speed.throughput import Target


def time_matcalc(**target: Any) -> list[dict[str, Any]]:
    """One row per material: matcalc's own loop on the same model and structures.

    elasticity: ``ElasticityCalc`` with its own relaxation (FIRE, fmax 0.05 eV/Å as the MatCalc
    benchmark) and the strains of :class:`ElasticSettings`. phonons: ``PhononCalc`` with its
    defaults (its own relaxation, 20 Å supercell rule), nothing written to disk. ``target``:
    the fields of :class:`bench.speed.throughput.Target`.
    """
    what = Target(**target)
    task, subset = what.task, what.subset
    loaded, dataset, ids, _ = what.prepare()
    calc = matcalc_calc(task, loaded)
    rows = []
    for material_id in ids:
        structure, _, _ = load_structure(dataset, material_id, what.data_path)
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


def matcalc_calc(task: str, loaded: LoadedModel) -> Any:
    """matcalc's PropCalc for ``task`` on the model's calculator, configured as bench's
    elasticity protocol (:class:`ElasticSettings`) or PhononCalc's defaults."""
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
    return calc
