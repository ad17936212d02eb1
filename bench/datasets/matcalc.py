"""MatCalc benchmark files: gzip JSON lists of {mp_id, formula, structure, <property>}.

Each file is parsed once per process; structures (pymatgen ``Structure.as_dict()``) become
ASE Atoms from ``lattice.matrix``, species and fractional ``abc`` directly, without pymatgen.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from bench.bounded import REFERENCE, REFERENCE_DECOMPRESSED, load_json, read_decompressed
from bench.datasets.locate import (
    DataNotFoundError,
    embedded_dir,
    fetch_file,
    sha256_of,
    verify,
)
from bench.datasets.reference import MalformedReferenceError, PhononReference, check_cell
from bench.datasets.registry import get_dataset


@dataclass
class ElasticReference:
    """DFT elastic moduli (Voigt-Reuss-Hill, GPa) of one Materials Project structure (Å)."""

    material_id: str
    dataset: str
    structure: Atoms
    bulk_modulus_GPa: float
    shear_modulus_GPa: float
    source: str
    sha256: str


def structure_to_atoms(data: dict[str, Any]) -> Atoms:
    """ASE Atoms (Å, pbc) from a pymatgen ``Structure.as_dict()`` with ordered sites."""
    lattice = np.array(data["lattice"]["matrix"], dtype=float)
    if lattice.shape != (3, 3) or not np.all(np.isfinite(lattice)):
        raise MalformedReferenceError("lattice matrix is not a finite 3x3 matrix")
    check_cell(lattice, "lattice")
    symbols, frac = [], []
    for site in data["sites"]:
        species = site["species"]
        if len(species) != 1 or abs(float(species[0].get("occu", 1.0)) - 1.0) > 1e-8:
            raise MalformedReferenceError("disordered site (partial occupancy)")
        symbols.append(species[0]["element"])
        frac.append(site["abc"])
    if not symbols:
        raise MalformedReferenceError("structure has no sites")
    return Atoms(symbols=symbols, cell=lattice, scaled_positions=np.array(frac), pbc=True)


@lru_cache(maxsize=8)
def _read(path: str) -> dict[str, dict[str, Any]]:
    """Entries of a MatCalc file by material id (parsed once per process and path)."""
    name = Path(path).name
    error = MalformedReferenceError
    entries = load_json(
        read_decompressed(path, REFERENCE, REFERENCE_DECOMPRESSED, error), error, path
    )
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise MalformedReferenceError(f"{name}: not a JSON list of entries")
    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        material_id = entry.get("mp_id")
        if not isinstance(material_id, str):
            raise MalformedReferenceError(f"{name}: entry without mp_id")
        if material_id in out:
            raise MalformedReferenceError(f"{name}: {material_id} appears twice")
        out[material_id] = entry
    return out


def matcalc_file(dataset: str, data_dir: Path | None = None) -> tuple[Path, str]:
    """(local path, relpath) of the data set's file: the full file if local or downloadable,
    else the package's embedded smoke entries (DataNotFoundError if there are none)."""
    info = get_dataset(dataset)
    if info.file is None:
        raise ValueError(f"{dataset} is not a single-file (MatCalc) data set")
    try:
        path = fetch_file(info.file, info.urls(info.file), info.sha256(info.file), data_dir)
        _MISSING_FULL.pop(dataset, None)
        return path, info.file
    except DataNotFoundError as err:
        if not info.embedded:
            raise
        relpath = info.embedded["file"]
        path = verify(embedded_dir() / relpath, info.embedded["sha256"])
        _MISSING_FULL[dataset] = str(err)
        return path, relpath


#: why the full file was not used, per data set whose embedded entries were read instead
_MISSING_FULL: dict[str, str] = {}


def require_entries(dataset: str, material_ids: list[str], data_dir: Path | None = None) -> None:
    """DataNotFoundError (the full file's) when the file read lacks some of the materials:
    the embedded entries cover the smoke subsets only."""
    missing = [i for i in material_ids if i not in load_entries(dataset, data_dir)]
    if missing and dataset in _MISSING_FULL:
        covered = ", ".join(get_dataset(dataset).embedded["subsets"])
        raise DataNotFoundError(
            f"{_MISSING_FULL[dataset]} (the package's own copy covers only {covered}; "
            f"{len(missing)} of the {len(material_ids)} materials, e.g. {missing[0]}, need "
            "the full file)"
        )


def load_entries(dataset: str, data_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """All entries of a MatCalc file, by material id (parsed once per process)."""
    path, _ = matcalc_file(dataset, data_dir)
    return _read(str(path))


def _entry(dataset: str, material_id: str, data_dir: Path | None) -> tuple[dict, str, str]:
    path, relpath = matcalc_file(dataset, data_dir)
    entries = _read(str(path))
    if material_id not in entries:
        require_entries(dataset, [material_id], data_dir)  # the embedded file: not found
        raise MalformedReferenceError(f"{material_id} is not in {relpath}")
    return entries[material_id], relpath, sha256_of(path)


def load_cv_reference(
    dataset: str, material_id: str, data_dir: Path | None = None
) -> PhononReference:
    """MatCalc Cv set: structure and Cv(300 K) in J/(K mol) per mole of the given cell. The
    file has no supercell: the protocol chooses it (``supercell_min_length_A``)."""
    info = get_dataset(dataset)
    entry, relpath, digest = _entry(dataset, material_id, data_dir)
    try:
        atoms = structure_to_atoms(entry["structure"])
        cv = float(entry["heat_capacity"])
    except (KeyError, TypeError, ValueError) as err:
        raise MalformedReferenceError(f"{material_id} in {relpath}: {err!r}") from err
    if not np.isfinite(cv):
        raise MalformedReferenceError(f"{material_id} in {relpath}: non-finite heat_capacity")
    return PhononReference(
        material_id=material_id,
        dataset=info.name,
        unit_cell=atoms,
        supercell_matrix=None,
        primitive_matrix=None,
        phonopy=None,
        stored={"temperatures_K": [300.0], "heat_capacity_J_per_K_mol": [cv]},
        source=relpath,
        sha256=digest,
    )


def load_elastic_reference(
    dataset: str, material_id: str, data_dir: Path | None = None
) -> ElasticReference:
    """DFT K_VRH and G_VRH (GPa) and the Materials Project structure of one material."""
    info = get_dataset(dataset)
    if info.format != "matcalc-elastic":
        raise ValueError(f"{dataset} is not an elasticity data set")
    entry, relpath, digest = _entry(dataset, material_id, data_dir)
    try:
        atoms = structure_to_atoms(entry["structure"])
        k, g = float(entry["bulk_modulus_vrh"]), float(entry["shear_modulus_vrh"])
    except (KeyError, TypeError, ValueError) as err:
        raise MalformedReferenceError(f"{material_id} in {relpath}: {err!r}") from err
    if not (np.isfinite(k) and np.isfinite(g)):
        raise MalformedReferenceError(f"{material_id} in {relpath}: non-finite moduli")
    return ElasticReference(material_id, dataset, atoms, k, g, relpath, digest)
