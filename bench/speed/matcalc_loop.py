"""``bench speed matcalc``: matcalc's own calculator loop on the same model, materials and
protocol as ``bench speed pipeline``: the ``PropCalc`` call that bench's ``matcalc`` protocol
copies (matcalc 0.7.0 ``benchmark.py`` ``get_prop_calc``), so the two time the same work."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

from bench.datasets import load_structure
from bench.errors import ConfigurationError
from bench.models import LoadedModel
from bench.models.timing import model_clock, peak_rss_mb
from bench.physics.elasticity import ElasticSettings
from bench.settings import PhononSettings
from bench.speed.throughput import Target
from bench.tasks import TASKS


def time_matcalc(**target: Any) -> list[dict[str, Any]]:
    """One row per material: matcalc's own loop on the same model and structures, built from
    the run's effective settings (:data:`MATCALC_LOOPS`); each row names the protocol and the
    matcalc call. ``target``: the fields of :class:`bench.speed.throughput.Target`."""
    what = Target(**target)
    task, subset = what.task, what.subset
    if task not in matcalc_tasks():
        raise ConfigurationError(f"matcalc has no loop for task {task!r}")
    loaded, dataset, ids, settings = what.prepare()
    calc, call = MATCALC_LOOPS[type(settings)](loaded, settings)
    rows = []
    for material_id in ids:
        structure, _, _ = load_structure(dataset, material_id, what.data_path)
        status, values = "ok", {}
        with model_clock(loaded) as clock:
            start = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    values = matcalc_values(calc.calc(structure), settings)
            except Exception as err:  # timing only: record and go on
                status = f"failed: {type(err).__name__}"
            wall = time.perf_counter() - start
        rows.append(
            {
                "model": loaded.key,
                "dtype": loaded.dtype,
                "task": task,
                "subset": subset,
                "protocol": settings.protocol,
                "matcalc_call": call,
                "material_id": material_id,
                "status": status,
                "wall_s": wall,
                "model_s": clock.seconds,
                "model_calls": clock.calls,
                "harness_s": wall - clock.seconds,
                "peak_rss_MB": peak_rss_mb(),
                **values,
            }
        )
    return rows


def matcalc_values(result: dict[str, Any], settings: Any) -> dict[str, float]:
    """The scored values matcalc's result gives, under bench's property names: Cv (J/(K·mol),
    per cell as given, at the report temperature) or K and G (VRH, GPa)."""
    if isinstance(settings, PhononSettings):
        thermal = result["thermal_properties"]
        at = list(thermal["temperatures"]).index(settings.report_temperature_K)
        return {"Cv_J_per_K_mol": float(thermal["heat_capacity"][at])}
    return {"K_GPa": float(result["bulk_modulus_vrh"]), "G_GPa": float(result["shear_modulus_vrh"])}


def _needs_matcalc_protocol(settings: Any) -> None:
    """Only bench's ``matcalc`` protocol copies a matcalc call: anything else is no like for
    like."""
    if settings.protocol != "matcalc":
        raise ConfigurationError(
            f"matcalc's loop is the call bench's 'matcalc' protocol copies, not protocol "
            f"{settings.protocol!r}: give --protocol matcalc (or a MatCalc subset)"
        )


def phonon_calc(loaded: LoadedModel, settings: Any) -> tuple[Any, str]:
    """``PhononCalc(calculator, fmax=0.05, write_phonon=False)``: matcalc 0.7.0
    ``PhononBenchmark.get_prop_calc``, the call :data:`bench.tasks.phonons.MATCALC_PHONONS`
    copies (its other arguments are PhononCalc's defaults, as in bench's protocol)."""
    from matcalc import PhononCalc  # import late: probes the network

    _needs_matcalc_protocol(settings)
    fmax = settings.relax.fmax_eV_per_A
    calc = PhononCalc(loaded.calculator, fmax=fmax, write_phonon=False)
    return calc, f"PhononCalc(calculator, fmax={fmax}, write_phonon=False)"


def elastic_calc(loaded: LoadedModel, settings: Any) -> tuple[Any, str]:
    """``ElasticityCalc`` as matcalc 0.7.0 ``ElasticityBenchmark.get_prop_calc`` builds it,
    from bench's ``matcalc`` elasticity protocol (:class:`ElasticSettings`' fields)."""
    from matcalc import ElasticityCalc  # import late: probes the network

    _needs_matcalc_protocol(settings)
    es = settings
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
    return calc, f"ElasticityCalc(calculator, fmax={es.relax.fmax_eV_per_A}, ...)"


#: a task's settings class -> builder of the matcalc PropCalc that bench's ``matcalc`` protocol
#: copies, and that call as text
MATCALC_LOOPS: dict[type, Callable[[LoadedModel, Any], tuple[Any, str]]] = {
    PhononSettings: phonon_calc,
    ElasticSettings: elastic_calc,
}


def matcalc_tasks() -> list[str]:
    """The tasks matcalc has a loop for (their settings class has a builder)."""
    return [name for name, task in TASKS.items() if task.settings_cls in MATCALC_LOOPS]
