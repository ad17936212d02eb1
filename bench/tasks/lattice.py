"""Lattice: the model's relaxed cell against the DFT-relaxed structure of a data set.

Protocols: ``mdr-relax`` (default): the MDR authors' relaxation (hyllios/utils
``benchmark_ph/umlip.py`` ``relax_structure(fmax=0.005, fix_symmetry=True)``, the defaults of
:class:`bench.settings.RelaxSettings`: FIRE + FrechetCellFilter + FixSymmetry to 0.0025 eV/Å,
rejected above 0.005); ``matcalc-relaxcalc``: matcalc 0.7.0 ``RelaxCalc`` with its defaults
(FIRE, FrechetCellFilter, fmax 0.1 eV/Å, at most 500 steps, no symmetry constraint, never
rejected). MatCalc's 0.1 eV/Å is too loose to score a lattice: measured with CHGNet and 7net-0
on elastic-dev and mdr-50, 50–76 % of the structures end after zero steps (the DFT cell is
already "converged"), so that protocol mostly scores the input. The reference is the
structure the data set gives (MatCalc elastic set: Materials Project PBE; MDR and MatCalc Cv
sets: Alexandria PBE unit cells), which is DFT-relaxed. Scored: volume per atom [Å³/atom],
its relative error [%] (reference 0), and the lattice lengths a, b, c [Å] (the cell keeps its
orientation under FrechetCellFilter, so a, b, c compare one to one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms

from bench.errors import NonFiniteError
from bench.models import LoadedModel
from bench.settings import RelaxSettings, check_finite
from bench.tasks.base import Material, Property, Task, TaskOutput, failing_with

#: matcalc 0.7.0 RelaxCalc(calculator) defaults (src/matcalc/_relaxation.py)
MATCALC_RELAX = RelaxSettings(
    optimizer="FIRE",  # RelaxCalc(optimizer="FIRE")
    cell_filter="FrechetCellFilter",  # RelaxCalc(cell_filter=FrechetCellFilter)
    fix_symmetry=False,  # RelaxCalc(fix_symmetry=False)
    symprec=1e-3,  # RelaxCalc(symprec=1e-3); unused without FixSymmetry
    fmax_eV_per_A=0.1,  # RelaxCalc(fmax=0.1)
    accept_fmax_eV_per_A=None,  # RelaxCalc.calc: the final structure is returned as it is
    steps_per_pass=500,  # RelaxCalc(max_steps=500)
    max_passes=1,  # one optimizer.run
    explode_force_eV_per_A=None,  # no bound on the forces
    accept_on="atoms",  # RelaxCalc reports |atoms.get_forces()|
)


@dataclass(frozen=True)
class LatticeSettings:
    """Relaxation of each structure with the model (the only knob of this task)."""

    protocol: str = "mdr-relax"  # the name of the protocol these values copy
    relax: RelaxSettings = field(default_factory=RelaxSettings)  # MDR's, umlip.py
    dtype: str | None = None  # model precision; None: the family's most precise

    def __post_init__(self) -> None:
        check_finite(self)


def cell_values(atoms: Atoms) -> dict[str, float]:
    """Volume per atom [Å³/atom] and lattice lengths a, b, c [Å] of a cell."""
    a, b, c = (float(x) for x in atoms.cell.lengths())
    return {
        "volume_A3_per_atom": float(atoms.get_volume() / len(atoms)),
        "a_A": a,
        "b_A": b,
        "c_A": c,
    }


def evaluate(
    model: LoadedModel, material: Material, settings: LatticeSettings, batch: bool = True
) -> TaskOutput:
    """Relax the data set's structure with the model; its cell against the given one."""
    import time

    from bench.datasets import load_structure
    from bench.physics.relax import relax

    structure, source, sha256 = load_structure(
        material.dataset, material.material_id, material.data_dir
    )
    ref = {**cell_values(structure), "volume_rel_error_pct": 0.0}
    details: dict[str, Any] = {"source": {"file": source, "sha256": sha256}}
    t0 = time.perf_counter()
    with failing_with(ref, details):
        relaxed = relax(structure, model.calculator, settings.relax)
    values = cell_values(relaxed.atoms)
    values["volume_rel_error_pct"] = float(
        100.0 * (values["volume_A3_per_atom"] / ref["volume_A3_per_atom"] - 1.0)
    )
    if not np.isfinite(list(values.values())).all():
        raise NonFiniteError("non-finite relaxed cell", partial={"ref": ref, "details": details})
    details["relax"] = {"steps": relaxed.steps, "fmax_eV_per_A": relaxed.fmax_eV_per_A}
    return {
        "values": values,
        "ref": ref,
        "details": details,
        "timings_s": {"relax": time.perf_counter() - t0},
    }


TASK = Task(
    name="lattice",
    stress_use="it relaxes the cell, which follows the stress",
    settings_cls=LatticeSettings,
    protocols={
        "mdr-relax": LatticeSettings(),
        "matcalc-relaxcalc": LatticeSettings(protocol="matcalc-relaxcalc", relax=MATCALC_RELAX),
    },
    props=(
        Property("volume_A3_per_atom", "V [Å³/atom]", tolerance_floor=0.02),
        Property("volume_rel_error_pct", "ΔV/V [%]", tolerance_floor=0.1),
        Property("a_A", "a [Å]", tolerance_floor=0.005),
        Property("b_A", "b [Å]", tolerance_floor=0.005),
        Property("c_A", "c [Å]", tolerance_floor=0.005),
    ),
    evaluate=evaluate,
    default_subset="elastic-smoke",
    structure_only=True,  # any data set's structures (MatCalc elastic, MDR, MatCalc Cv)
)
