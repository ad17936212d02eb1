"""Phonons (Table 2): ωmax, S, F, Cv at 300 K from phonopy on the model's forces.

Protocols: ``mdr`` (the MDR authors' hyllios/utils ``benchmark_ph``, the defaults of
:class:`bench.settings.PhononSettings`) and ``matcalc`` (matcalc 0.7.0 ``PhononBenchmark``:
``PhononCalc(calculator, fmax=0.05, write_phonon=False)`` with PhononCalc's defaults)."""

from __future__ import annotations

from typing import Any

from bench.models import LoadedModel
from bench.settings import PhononSettings, RelaxSettings
from bench.tasks.base import (
    EngineStages,
    Material,
    Property,
    Task,
    TaskOutput,
    failing_with,
)

#: matcalc 0.7.0 PhononCalc as PhononBenchmark calls it (src/matcalc/_phonon.py, benchmark.py)
MATCALC_PHONONS = PhononSettings(
    protocol="matcalc",
    relax=RelaxSettings(
        optimizer="FIRE",  # PhononCalc(optimizer="FIRE")
        cell_filter="FrechetCellFilter",  # RelaxCalc(cell_filter=FrechetCellFilter)
        fix_symmetry=False,  # RelaxCalc(fix_symmetry=False)
        symprec=1e-3,  # RelaxCalc(symprec=1e-3); unused without FixSymmetry
        fmax_eV_per_A=0.05,  # benchmark.py: PhononCalc(calculator, fmax=0.05, ...)
        accept_fmax_eV_per_A=None,  # PhononCalc._relax_structure: result used, never rejected
        steps_per_pass=5000,  # PhononCalc(max_steps=5000)
        max_passes=1,  # one RelaxCalc.calc
        explode_force_eV_per_A=None,  # backend/_ase.py run_ase: no bound on the forces
        accept_on="atoms",  # RelaxCalc: max_force = |atoms.get_forces()| (reported only)
    ),
    displacement_A=0.015,  # PhononCalc(atom_disp=0.015)
    is_diagonal=True,  # _run_phonopy: phonon.generate_displacements(distance=atom_disp)
    remove_drift=False,  # _run_phonopy: phonon.forces = [run_pes_calc(...).forces ...]
    symmetrize_force_constants=False,  # _run_phonopy: produce_force_constants() only
    mesh=100.0,  # _run_phonopy: phonon.run_mesh(with_eigenvectors=True), default mesh=100.0
    # calc: phonon.run_thermal_properties(t_step=10, t_max=1000, t_min=0)
    temperatures_K=tuple(float(t) for t in range(0, 1001, 10)),
    report_temperature_K=300.0,  # benchmark.py process_result: heat_capacity[30] = 300 K
    supercell_min_length_A=20.0,  # PhononCalc(min_length=20.0), on the relaxed structure
    phonopy_symprec=1e-5,  # PhononCalc(symprec=1e-5) -> phonopy.Phonopy(symprec=...)
)


def evaluate(
    model: LoadedModel, material: Material, settings: PhononSettings, batch: bool = True
) -> TaskOutput:
    """Reference side first (kept if the model side fails), then the model's phonons, the
    band RMSE against the reference on the mesh (K) and the model's force constants
    (``artifacts``)."""
    from bench.datasets import get_dataset, load_phonon_reference
    from bench.physics.kept_fc import fc_payload
    from bench.physics.phonon_metrics import band_rmse_K
    from bench.physics.phonons import reference_values, run_phonons

    # what "per mole" counts in S, F, Cv (the data set's, e.g. "primcell")
    details: dict[str, Any] = {"basis": get_dataset(material.dataset).basis}
    ref = load_phonon_reference(*material.where)
    refs = reference_values(ref, settings)
    details["ref_stored"] = refs["stored"]
    details["ref_recomputed"] = refs["recomputed"]
    details["source"] = {"file": ref.source, "sha256": ref.sha256}
    with failing_with(refs["values"], details):
        result = run_phonons(ref, model, settings, batch=batch)
    values, timings, ph = result.pop("values"), result.pop("timings_s"), result.pop("phonopy")
    if ref.phonopy is not None:  # beyond Table 2: band frequencies against DFT's on the mesh
        values["band_rmse_K"] = band_rmse_K(ph, ref.phonopy, settings.mesh, settings.thz_to_K)
    return {
        "values": values,
        "ref": refs["values"],
        "details": {**details, **result},
        "timings_s": timings,
        # the model's force constants, kept beside the store unless the run says not to
        "artifacts": {"force_constants": fc_payload(ph)},
    }


def _start(material: Material, settings: PhononSettings) -> tuple[Any, Any]:
    """The unit cell the model relaxes, and the reference (for the supercell)."""
    from bench.datasets import load_phonon_reference

    ref = load_phonon_reference(*material.where)
    return ref.unit_cell, ref


def _follow(relaxed: Any, ref: Any, settings: PhononSettings) -> list[Any]:
    """The displaced supercells of the relaxed cell."""
    from bench.physics.phonons import displaced_supercells

    return displaced_supercells(relaxed, ref, settings)[1]


TASK = Task(
    name="phonons",
    stress_use="it relaxes the unit cell (cell filter) before the displacements",
    settings_cls=PhononSettings,
    protocols={"mdr": PhononSettings(), "matcalc": MATCALC_PHONONS},
    props=(
        Property("omega_max_K", "ωmax [K]", "omega_max_K", tolerance_floor=0.5),
        Property("S_J_per_K_mol", "S [J/mol·K]", "S_J_per_molK", 0.1, per_mole=True),
        Property("F_kJ_per_mol", "F [kJ/mol]", "F_kJ_per_mol", 0.03, per_mole=True),
        Property("Cv_J_per_K_mol", "Cv [J/mol·K]", "Cv_J_per_molK", 0.03, per_mole=True),
    ),
    evaluate=evaluate,
    default_subset="mdr-smoke",
    table2=True,
    # MDR's stability flag (postprocess.py writes "stable" beside every material and keeps
    # unstable ones in the properties it scores), for the model and the DFT reference
    flags={"model.stable": "n_unstable", "ref.stable": "n_unstable_dft"},
    flag_labels={"n_unstable": "unstable", "n_unstable_dft": "unstable (DFT)"},
    subset_option="phonon-subset",
    paper_dataset="mdr-pbe",
    report_subsets={"full": "cv-binary-1170", "mdr": "mdr-50", "smoke": "mdr-smoke"},
    page_section="bands",
    stages=EngineStages(start=_start, follow=_follow),
)
