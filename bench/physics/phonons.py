"""MDR phonon pipeline: relax, displace, model forces, phonopy force constants, properties.

Follows hyllios/utils ``benchmark_ph`` (calc_phonopy.py for the model side, calc_ref.py and
postprocess.py for the properties). The same :func:`phonon_properties` computes the model's and
the reference's numbers, so both sides integrate on the same mesh with the same code.

Units: thermal properties per mole of phonopy primitive cells (MDR: the reference file's
primitive cell; MatCalc's Cv set: the cell as given, which MatCalc takes as primitive); F in
kJ/mol (zero-point energy included), S and Cv in J/(K·mol); frequencies in K
(THz × ``settings.thz_to_K``). Each record names its basis (``details.basis``).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from ase import Atoms
from phonopy import Phonopy
from phonopy.harmonic.dynmat_to_fc import get_commensurate_points
from phonopy.phonon.mesh import MeshGRGridFallbackWarning
from phonopy.phonon.thermal_properties import GammaAcousticWarning
from phonopy.structure.atoms import PhonopyAtoms

from bench.datasets import PhononReference
from bench.datasets.reference import check_supercell
from bench.errors import MaterialError, NonFiniteError, PhonopyError
from bench.models import LoadedModel
from bench.physics.phonon_metrics import mesh_mean_frequency_K
from bench.physics.relax import timed_relax
from bench.physics.supercells import min_length_supercell
from bench.settings import PhononSettings

#: benchmark quantities at the report temperature: record key -> thermal-properties key
PROPERTIES = {
    "S_J_per_K_mol": "entropy",
    "F_kJ_per_mol": "free_energy",
    "Cv_J_per_K_mol": "heat_capacity",
}
#: reference values a record keeps (Table 2's, the extra frequencies, the stability flag)
REFERENCE_KEYS = (*PROPERTIES, "omega_max_K", "omega_min_K", "omega_avg_K", "stable")
STORED_KEYS = {
    "entropy": "entropy_J_per_K_mol",
    "free_energy": "free_energy_kJ_per_mol",
    "heat_capacity": "heat_capacity_J_per_K_mol",
}


def to_phonopy_atoms(atoms: Atoms) -> PhonopyAtoms:
    return PhonopyAtoms(
        symbols=atoms.get_chemical_symbols(),
        cell=np.asarray(atoms.get_cell()),
        scaled_positions=atoms.get_scaled_positions(),
    )


def to_ase_atoms(cell: PhonopyAtoms) -> Atoms:
    return Atoms(
        symbols=cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True
    )


def supercell_matrix(unit_cell: Atoms, ref: PhononReference, settings: PhononSettings):
    """The supercell the protocol asks for: the reference file's (MDR), or MatCalc's
    ``diag(ceil(L / |a_i|))`` of ``unit_cell`` (the relaxed cell) when
    ``settings.supercell_min_length_A`` is set. MaterialError when neither exists."""
    if settings.supercell_min_length_A is not None:
        matrix = min_length_supercell(unit_cell, settings.supercell_min_length_A)
        where = f"supercell_min_length_A={settings.supercell_min_length_A:g} on {ref.source}"
        check_supercell(len(unit_cell), matrix, where)
        return matrix
    if ref.supercell_matrix is None:
        raise MaterialError(
            f"{ref.dataset} has no supercell matrix and protocol {settings.protocol!r} takes it "
            "from the reference; use a protocol that builds one (--protocol matcalc)"
        )
    check_supercell(len(unit_cell), ref.supercell_matrix, ref.source)
    return ref.supercell_matrix


def build_phonopy(unit_cell: Atoms, ref: PhononReference, settings: PhononSettings) -> Phonopy:
    """Phonopy object on ``unit_cell`` with the protocol's supercell and the reference's
    primitive matrix (identity when it has none: the unit cell is primitive)."""
    primitive = np.eye(3) if ref.primitive_matrix is None else ref.primitive_matrix
    return Phonopy(
        to_phonopy_atoms(unit_cell),
        supercell_matrix=supercell_matrix(unit_cell, ref, settings),
        primitive_matrix=primitive,
        symprec=settings.phonopy_symprec,
    )


def displaced_supercells(
    unit_cell: Atoms, ref: PhononReference, settings: PhononSettings
) -> tuple[Phonopy, list[Atoms]]:
    """The Phonopy object of the relaxed ``unit_cell`` and its displaced supercells, as the
    protocol builds them; PhonopyError when phonopy rejects the structure."""
    try:
        ph = build_phonopy(unit_cell, ref, settings)
        ph.generate_displacements(
            distance=settings.displacement_A, is_diagonal=settings.is_diagonal
        )
    except (ValueError, RuntimeError) as err:  # phonopy rejects the structure
        raise PhonopyError(f"phonopy rejected the relaxed structure: {err}") from err
    return ph, [to_ase_atoms(sc) for sc in ph.supercells_with_displacements]


def mdr_stable(freqs_K: np.ndarray, acoustic_tol_K: float = -35.0) -> bool:
    """MDR's stability flag (postprocess.py) on frequencies (K) at the commensurate points,
    Γ first: unstable if a Γ acoustic mode (the 3 lowest) is below ``acoustic_tol_K``, another
    Γ mode below 0, or any mode at another point below 0."""
    freqs_K = np.asarray(freqs_K)
    gamma = np.sort(freqs_K[0])
    return not (
        np.any(gamma[:3] < acoustic_tol_K) or np.any(gamma[3:] < 0.0) or np.any(freqs_K[1:] < 0.0)
    )


def phonon_properties(ph: Phonopy, settings: PhononSettings) -> dict[str, Any]:
    """Thermal properties on the mesh and frequencies at the commensurate points (MDR).

    ``ph`` must hold force constants. Returns the benchmark values at the report temperature,
    the full temperature series, ``omega_max_K``/``omega_min_K`` (commensurate points),
    ``omega_avg_K`` (mean over the mesh) and the MDR stability flag.
    """
    with warnings.catch_warnings():
        # phonopy 4 notes when it widens the length-100 mesh to a generalized grid, and that the
        # Γ acoustic modes enter the sums (as they did for MDR with phonopy 2.x). Both apply to
        # the model and the reference alike.
        warnings.simplefilter("ignore", MeshGRGridFallbackWarning)
        warnings.simplefilter("ignore", GammaAcousticWarning)
        ph.init_mesh(settings.mesh)
        ph.run_mesh()
        ph.run_thermal_properties(temperatures=list(settings.temperatures_K))
    omega_avg_K = mesh_mean_frequency_K(ph, settings.thz_to_K)
    tp = ph.thermal_properties
    thermal = {
        "temperatures": tp.temperatures,
        "free_energy": tp.free_energy,
        "entropy": tp.entropy,
        "heat_capacity": tp.heat_capacity,
    }
    # MDR passes the supercell's commensurate points straight to get_frequencies, i.e. as
    # reduced coordinates of the primitive reciprocal lattice; we do the same so that model and
    # reference frequencies are taken at the same points.
    q_points = get_commensurate_points(ph.supercell_matrix)
    freqs_K = np.asarray(ph.run_qpoints(q_points).frequencies) * settings.thz_to_K
    i_T = list(settings.temperatures_K).index(settings.report_temperature_K)
    out: dict[str, Any] = {key: float(thermal[name][i_T]) for key, name in PROPERTIES.items()}
    out["omega_max_K"] = float(freqs_K.max())
    out["omega_min_K"] = float(freqs_K.min())
    out["omega_avg_K"] = omega_avg_K
    out["stable"] = mdr_stable(freqs_K, settings.acoustic_gamma_tol_K)
    out["thermal"] = {
        "temperatures_K": [float(t) for t in thermal["temperatures"]],
        **{STORED_KEYS[name]: [float(v) for v in thermal[name]] for name in STORED_KEYS},
    }
    values = [out[k] for k in (*PROPERTIES, "omega_max_K")]
    if not np.all(np.isfinite(values)):
        raise NonFiniteError("non-finite phonon properties")
    return out


def reference_values(ref: PhononReference, settings: PhononSettings) -> dict[str, Any]:
    """DFT values to score against: stored with the data, ωmax recomputed when not stored.

    Returns ``{"stored": {...}, "recomputed": {...} | None, "values": {...}}``; ``values`` is
    what the MAE uses (stored where present, else recomputed from the reference force
    constants with :func:`phonon_properties`).
    """
    stored: dict[str, float] = {}
    temps = ref.stored.get("temperatures_K")
    if temps is not None and settings.report_temperature_K in temps:
        i_T = list(temps).index(settings.report_temperature_K)
        for key, name in PROPERTIES.items():
            series = ref.stored.get(STORED_KEYS[name])
            if series is not None:
                stored[key] = float(series[i_T])
    if "omega_max_K" in ref.stored:
        stored["omega_max_K"] = float(ref.stored["omega_max_K"])
    recomputed = None
    if ref.phonopy is not None:
        ph = ref.phonopy
        if ph.force_constants is None:
            ph.produce_force_constants()
        recomputed = phonon_properties(ph, settings)
        recomputed.pop("thermal")
    values = {k: v for k, v in (recomputed or {}).items() if k in REFERENCE_KEYS}
    values.update(stored)
    return {"stored": stored, "recomputed": recomputed, "values": values}


def _remove_drift(forces: np.ndarray) -> np.ndarray:
    """Subtract the mean force so the set sums to zero (calc_phonopy.py)."""
    return forces - forces.sum(axis=0) / len(forces)


def run_phonons(
    ref: PhononReference, model: LoadedModel, settings: PhononSettings, batch: bool = True
) -> dict[str, Any]:
    """Model phonon properties for one material, following the protocol in ``settings``.

    Returns ``values`` (the model's, at the report temperature), ``thermal`` (the series over
    ``settings.temperatures_K``), ``relax`` diagnostics, ``n_displacements``,
    ``n_atoms_supercell`` and ``timings_s`` (s: ``relax``, ``forces``, ``phonopy``). The
    reference side is :func:`reference_values`. ``phonopy`` is the model's Phonopy object
    with its force constants (eV/Å²), for comparisons and to keep; it is no record field.
    Raises a :class:`MaterialError` subclass on failure.
    """
    relaxed, timings = timed_relax(ref.unit_cell, model, settings.relax)

    t0 = time.perf_counter()
    ph, supercells = displaced_supercells(relaxed.atoms, ref, settings)
    timings["phonopy"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    forces = model.forces(supercells, batch=batch)
    timings["forces"] = time.perf_counter() - t0
    if not all(np.all(np.isfinite(f)) for f in forces):
        raise NonFiniteError("model returned non-finite forces on a displaced supercell")
    if settings.remove_drift:
        forces = [_remove_drift(f) for f in forces]

    t0 = time.perf_counter()
    ph.forces = np.array(forces)
    ph.produce_force_constants()
    if settings.symmetrize_force_constants:
        ph.symmetrize_force_constants()
    values = phonon_properties(ph, settings)
    timings["phonopy"] += time.perf_counter() - t0

    thermal = values.pop("thermal")
    return {
        "values": values,
        "thermal": thermal,
        "relax": {
            "steps": relaxed.steps,
            "passes": relaxed.passes,
            "fmax_eV_per_A": relaxed.fmax_eV_per_A,
            "energy_eV": relaxed.energy_eV,
            "volume_change": relaxed.volume_change,
        },
        "n_displacements": len(supercells),
        "n_atoms_supercell": len(supercells[0]),
        "timings_s": timings,
        "phonopy": ph,
    }
