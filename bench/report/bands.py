"""Phonon band structures along a standard path and densities of states, for plotting.

The path is ASE's for the Bravais lattice of the reference's primitive cell
(``Cell.bandpath``, Setyawan–Curtarolo special points), expressed in that cell's reduced
reciprocal coordinates; every phonopy object (DFT's, each model's) is evaluated at the same
reduced q-points, as MDR compares frequencies. Frequencies in THz, DOS in states/THz per
primitive cell (phonopy's tetrahedron method), all sides on one frequency grid.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from ase.cell import Cell
from ase.dft.kpoints import BandPath
from phonopy import Phonopy
from phonopy.phonon.mesh import MeshGRGridFallbackWarning

#: q-points along the whole path, mesh length for the DOS (phonopy's length rule), DOS grid
PATH_POINTS = 160
DOS_MESH = 30.0
DOS_BINS = 240


@dataclass
class Curves:
    """Bands and DOS of several phonopy objects on one path and one frequency grid."""

    x: np.ndarray  # path coordinate of each q-point (ASE's linear axis, 1/Å)
    ticks: list[tuple[float, str]]  # special points: position, label
    path: str  # ASE path string, e.g. "GXWKGLUWLK,UX"
    bands_THz: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (n_q, n_bands)
    dos_THz: np.ndarray | None = None  # frequency grid
    dos: dict[str, np.ndarray] = field(default_factory=dict)  # name -> states/THz


def primitive_path(ph: Phonopy, npoints: int = PATH_POINTS) -> BandPath:
    """ASE's standard band path for the primitive cell of ``ph``."""
    return Cell(np.asarray(ph.primitive.cell, dtype=float)).bandpath(npoints=npoints)


def _labels(labels: list[str]) -> list[str]:
    return ["Γ" if s == "G" else s for s in labels]


def _dos(ph: Phonopy, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeshGRGridFallbackWarning)
        ph.run_mesh(DOS_MESH)
    ph.run_total_dos(freq_min=lo, freq_max=hi, freq_pitch=(hi - lo) / DOS_BINS)
    dos = ph.get_total_dos_dict()
    return np.asarray(dos["frequency_points"]), np.asarray(dos["total_dos"])


def phonon_curves(reference: Phonopy, others: dict[str, Phonopy], ref_name: str = "DFT") -> Curves:
    """Bands along the reference's path and DOS of ``reference`` and each of ``others``."""
    path = primitive_path(reference)
    x, ticks_x, labels = path.get_linear_kpoint_axis()
    curves = Curves(
        x=np.asarray(x),
        ticks=list(zip(map(float, ticks_x), _labels(labels), strict=True)),
        path=path.path,
    )
    for name, ph in {ref_name: reference, **others}.items():
        ph.run_qpoints(path.kpts)
        curves.bands_THz[name] = np.asarray(ph.qpoints.frequencies, dtype=float)
    every = np.concatenate([b.ravel() for b in curves.bands_THz.values()])
    pad = 0.05 * (every.max() - min(every.min(), 0.0) or 1.0)
    lo, hi = min(every.min(), 0.0) - pad, every.max() + pad
    for name, ph in {ref_name: reference, **others}.items():
        grid, curves.dos[name] = _dos(ph, lo, hi)
        curves.dos_THz = grid if curves.dos_THz is None else curves.dos_THz
    return curves
