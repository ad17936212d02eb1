"""Elastic pipeline: relax, strain, fit the elastic tensor with matcalc; K and G (VRH, GPa).

The relaxation is :func:`bench.physics.relax.relax` (so its status and step count are recorded);
matcalc's :class:`ElasticityCalc` then runs with ``relax_structure=False`` and every other
setting passed explicitly, because matcalc's defaults changed between releases.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms

from bench.errors import NonFiniteError
from bench.models import LoadedModel
from bench.physics.relax import timed_relax
from bench.settings import RelaxSettings, check_engine, check_finite, engine_field


def _matcalc_relax() -> RelaxSettings:
    # matcalc ElasticityBenchmark: RelaxCalc(FIRE, FrechetCellFilter, max_steps=500), fmax 0.05
    # (matcalc 0.7.0 benchmark.py: kwargs.setdefault("fmax", 0.05); _relaxation.py defaults);
    # RelaxCalc judges convergence on the atomic forces after removing the filter.
    return RelaxSettings(
        fix_symmetry=False,
        fmax_eV_per_A=0.05,
        accept_fmax_eV_per_A=0.05,
        steps_per_pass=500,
        max_passes=1,
        accept_on="atoms",
    )


@dataclass(frozen=True)
class ElasticSettings:
    """MatCalc elasticity benchmark protocol (matcalc 0.7.0 ``ElasticityBenchmark``, which
    calls ``ElasticityCalc(calculator, fmax=0.05)``: benchmark.py ``get_prop_calc``), made
    explicit."""

    protocol: str = "matcalc"  # the name of the protocol these values copy (hashed, shown)
    relax: RelaxSettings = field(default_factory=_matcalc_relax)
    norm_strains: tuple[float, ...] = (-0.01, -0.005, 0.005, 0.01)  # ElasticityCalc default
    shear_strains: tuple[float, ...] = (-0.06, -0.03, 0.03, 0.06)  # ElasticityCalc default
    symmetry: bool = False  # DeformedStructureSet symmetry reduction: off, as the benchmark
    relax_deformed_structures: bool = False  # clamped-ion, as the benchmark
    use_equilibrium: bool = True  # ElasticityCalc default: fit includes the relaxed stress
    #: model precision; None = the family's most precise (resolved before hashing)
    dtype: str | None = None
    #: bench.engines: "ase" (the source's loop) or "torch-sim" (batched; not in the digest as ase)
    engine: str = engine_field()

    def __post_init__(self) -> None:
        check_finite(self)
        check_engine(self.engine, self.relax.optimizer)
        for name in ("norm_strains", "shear_strains"):
            strains = getattr(self, name)
            if not strains or len(strains) > 20 or any(not 0 < abs(x) <= 0.2 for x in strains):
                raise ValueError(
                    f"{name} must be 1 to 20 non-zero strains of magnitude <= 0.2 (MatCalc: "
                    f"0.01 and 0.06; beyond 20 % a crystal is far from linear response), "
                    f"got {strains}"
                )


def elastic_properties(atoms: Atoms, model: LoadedModel, settings: ElasticSettings) -> dict:
    """Elastic tensor of an already relaxed structure via matcalc (GPa)."""
    from matcalc import ElasticityCalc  # import here: matcalc probes the network at import

    calc = ElasticityCalc(
        model.calculator,
        norm_strains=settings.norm_strains,
        shear_strains=settings.shear_strains,
        symmetry=settings.symmetry,
        relax_structure=False,
        relax_deformed_structures=settings.relax_deformed_structures,
        use_equilibrium=settings.use_equilibrium,
        units_GPa=True,
        r2_min=-1.0,  # we record R² ourselves instead of warning
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return calc.calc(atoms)


def strained_structures(atoms: Atoms, settings: ElasticSettings) -> list[Atoms]:
    """The structures whose stress :func:`elastic_properties` asks the model for: matcalc's
    strained cells of the relaxed ``atoms`` (``DeformedStructureSet``), then ``atoms``."""
    from matcalc.utils import to_ase_atoms, to_pmg_structure
    from pymatgen.core.elasticity import DeformedStructureSet

    deformed = DeformedStructureSet(
        to_pmg_structure(atoms), settings.norm_strains, settings.shear_strains, settings.symmetry
    )
    return [to_ase_atoms(s) for s in deformed] + [atoms.copy()]


def run_elasticity(
    structure: Atoms, model: LoadedModel, settings: ElasticSettings
) -> dict[str, Any]:
    """K_VRH and G_VRH (GPa) of one material, with the full tensor and diagnostics.

    As MatCalc's benchmark counts them, every finite K and G is a result: a tensor that is not
    positive definite is flagged (``values.positive_definite`` False), not a failure
    (matcalc 0.7.0 benchmark.py ``process_result`` writes NaN only when the calculation
    raised). Raises :class:`NonFiniteError` for a non-finite tensor or modulus and the
    relaxation's errors for a relaxation the protocol rejects.
    """
    relaxed, timings = timed_relax(structure, model, settings.relax)

    t0 = time.perf_counter()
    result = elastic_properties(relaxed.atoms, model, settings)
    timings["strain_fit"] = time.perf_counter() - t0

    tensor = np.asarray(result["elastic_tensor"].voigt, dtype=float)
    k_vrh, g_vrh = float(result["bulk_modulus_vrh"]), float(result["shear_modulus_vrh"])
    details = {
        "elastic_tensor_GPa": tensor.round(4).tolist(),
        "r2_mean": float(result["r2_score_mean"]),
        "relax": {
            "steps": relaxed.steps,
            "fmax_eV_per_A": relaxed.fmax_eV_per_A,
            "volume_change": relaxed.volume_change,
        },
    }
    if not (np.isfinite(tensor).all() and np.isfinite([k_vrh, g_vrh]).all()):
        raise NonFiniteError("non-finite elastic tensor")
    eigenvalues = np.linalg.eigvalsh(0.5 * (tensor + tensor.T))
    details["min_eigenvalue_GPa"] = float(eigenvalues.min())
    # Born stability, a flag beside the moduli (the table counts "not PD")
    values = {"K_GPa": k_vrh, "G_GPa": g_vrh, "positive_definite": bool(eigenvalues.min() > 0)}
    return {"values": values, "details": details, "timings_s": timings}
