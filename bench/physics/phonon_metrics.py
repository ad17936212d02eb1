"""Phonon metrics beyond Table 2: mean frequency on the mesh, and the RMSE of a model's band
frequencies against the reference's over a q-mesh of the Brillouin zone.

Frequencies are in K (THz × ``thz_to_K``, as ωmax); imaginary modes count as negative
frequencies (phonopy's convention), so a spurious instability raises the RMSE.
"""

from __future__ import annotations

import warnings

import numpy as np
from phonopy import Phonopy
from phonopy.phonon.mesh import MeshGRGridFallbackWarning


def mesh_mean_frequency_K(ph: Phonopy, thz_to_K: float) -> float:
    """ω_avg: mean frequency (K) over every band and q-point of the mesh ``ph`` last ran,
    each irreducible q-point weighted by its multiplicity."""
    freqs = np.asarray(ph.mesh.frequencies, dtype=float)
    weights = np.asarray(ph.mesh.weights, dtype=float)
    return float((weights @ freqs).sum() / (weights.sum() * freqs.shape[1]) * thz_to_K)


def band_rmse_K(model: Phonopy, ref: Phonopy, mesh: float, thz_to_K: float) -> float:
    """RMSE (K) of model − reference frequencies over the reference's irreducible q-mesh of
    length ``mesh``, weighted by multiplicity, bands in ascending order at each q-point.

    Both sides are evaluated at the same reduced q-points (coordinates of each side's own
    primitive reciprocal lattice, as MDR compares frequencies); ``ref`` is left with that mesh.
    Raises ValueError when the two have different numbers of bands.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeshGRGridFallbackWarning)
        ref.run_mesh(mesh)
    qpoints = np.asarray(ref.mesh.qpoints, dtype=float)
    weights = np.asarray(ref.mesh.weights, dtype=float)
    f_ref = np.asarray(ref.mesh.frequencies, dtype=float)
    model.run_qpoints(qpoints)
    f_model = np.asarray(model.qpoints.frequencies, dtype=float)
    if f_model.shape != f_ref.shape:
        raise ValueError(f"band counts differ: model {f_model.shape}, reference {f_ref.shape}")
    squared = ((np.sort(f_model, axis=1) - np.sort(f_ref, axis=1)) ** 2).mean(axis=1)
    return float(np.sqrt(weights @ squared / weights.sum()) * thz_to_K)
