"""A model's force constants as plain arrays, and back to a Phonopy object.

The arrays hold what rebuilds the model's phonons without recomputing: the force constants in
phonopy's compact form (n_primitive, n_supercell, 3, 3) in eV/Å² (float64), the relaxed unit
cell (Å), masses (amu), the supercell and primitive matrices and phonopy's symmetry tolerance.
``p2s_map`` (which supercell atoms the compact rows belong to) is kept to check the rebuilt
object indexes the rows the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from phonopy import Phonopy
from phonopy.harmonic.force_constants import full_fc_to_compact_fc
from phonopy.structure.atoms import PhonopyAtoms

#: payload keys, all numpy arrays
KEYS = (
    "force_constants",
    "cell_A",
    "scaled_positions",
    "numbers",
    "masses",
    "supercell_matrix",
    "primitive_matrix",
    "symprec",
    "p2s_map",
)


def fc_payload(ph: Phonopy) -> dict[str, np.ndarray]:
    """The arrays of :data:`KEYS` for ``ph`` (which must hold force constants)."""
    fc = np.asarray(ph.force_constants, dtype=np.float64)
    if fc.shape[0] == fc.shape[1] and len(ph.primitive) != len(ph.supercell):
        fc = full_fc_to_compact_fc(ph.primitive, fc)
    cell = ph.unitcell
    return {
        "force_constants": fc,
        "cell_A": np.asarray(cell.cell, dtype=np.float64),
        "scaled_positions": np.asarray(cell.scaled_positions, dtype=np.float64),
        "numbers": np.asarray(cell.numbers, dtype=np.int64),
        "masses": np.asarray(cell.masses, dtype=np.float64),
        "supercell_matrix": np.asarray(ph.supercell_matrix, dtype=np.int64),
        "primitive_matrix": np.asarray(ph.primitive_matrix, dtype=np.float64),
        "symprec": np.asarray(ph.symmetry.tolerance, dtype=np.float64),
        "p2s_map": np.asarray(ph.primitive.p2s_map, dtype=np.int64),
    }


def phonopy_from_payload(payload: dict[str, Any]) -> Phonopy:
    """The Phonopy object of :func:`fc_payload` arrays (lists accepted), with its force
    constants set. ValueError when a key is missing or the compact rows would not match."""
    missing = [k for k in KEYS if k not in payload]
    if missing:
        raise ValueError(f"force-constants payload lacks {', '.join(missing)}")
    arr = {k: np.asarray(payload[k]) for k in KEYS}
    unit = PhonopyAtoms(
        numbers=arr["numbers"].astype(int),
        cell=arr["cell_A"].astype(float),
        scaled_positions=arr["scaled_positions"].astype(float),
        masses=arr["masses"].astype(float),
    )
    ph = Phonopy(
        unit,
        supercell_matrix=arr["supercell_matrix"].astype(int),
        primitive_matrix=arr["primitive_matrix"].astype(float),
        symprec=float(arr["symprec"]),
    )
    if not np.array_equal(ph.primitive.p2s_map, arr["p2s_map"]):
        raise ValueError("rebuilt primitive cell maps to other supercell atoms than the kept one")
    ph.force_constants = arr["force_constants"].astype(np.float64)
    return ph
