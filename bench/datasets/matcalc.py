"""MatCalc benchmark files: gzip JSON lists of {mp_id, formula, structure, <property>}."""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from bench.datasets.locate import fetch, sha256_of
from bench.datasets.reference import MalformedReferenceError, PhononReference
from bench.datasets.registry import get_dataset

#: supercell rules by name (the name is hashed into the settings)
SUPERCELL_RULES = {"matcalc-min-length-20A": 20.0}


@dataclass
class ElasticReference:
    """DFT elastic moduli (VRH, GPa) of one Materials Project structure."""

    material_id: str
    dataset: str
    structure: Atoms
    bulk_modulus_GPa: float
    shear_modulus_GPa: float
    source: str
    sha256: str


def structure_to_atoms(data: dict[str, Any]) -> Atoms:
    """ASE Atoms from a pymatgen ``Structure.as_dict()`` (ordered sites only)."""
    lattice = np.array(data["lattice"]["matrix"], dtype=float)
    if lattice.shape != (3, 3):
        raise MalformedReferenceError("lattice matrix is not 3x3")
    symbols, frac = [], []
    for site in data["sites"]:
        if len(site["species"]) != 1:
            raise MalformedReferenceError("disordered site (several species)")
        symbols.append(site["species"][0]["element"])
        frac.append(site["abc"])
    return Atoms(symbols=symbols, cell=lattice, scaled_positions=np.array(frac), pbc=True)


@lru_cache(maxsize=4)
def _read(path: str) -> dict[str, dict[str, Any]]:
    try:
        with gzip.open(path, "rt") as handle:
            entries = json.load(handle)
    except (OSError, EOFError, zlib.error, json.JSONDecodeError) as err:
        raise MalformedReferenceError(f"{path}: unreadable MatCalc file ({err})") from err
    return {entry["mp_id"]: entry for entry in entries}


def _file(dataset: str, data_dir: Path | None) -> tuple[Path, str]:
    info = get_dataset(dataset)
    assert info.file is not None
    return fetch(info.file, info.upstream, info.sha256(info.file), data_dir), info.file


def load_entries(dataset: str, data_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """All entries of a MatCalc file, by material id (parsed once per process)."""
    path, _ = _file(dataset, data_dir)
    return _read(str(path))


def _entry(dataset: str, material_id: str, data_dir: Path | None) -> tuple[dict, str, str]:
    path, relpath = _file(dataset, data_dir)
    entries = _read(str(path))
    if material_id not in entries:
        raise MalformedReferenceError(f"{material_id} is not in {relpath}")
    return entries[material_id], relpath, sha256_of(path)


def supercell_rule_matrix(atoms: Atoms, rule: str) -> np.ndarray:
    """Diagonal supercell with every lattice vector at least the rule's length (Å).

    ``matcalc-min-length-20A`` is MatCalc 0.7.0 PhononCalc's default:
    ``diag(ceil(min_length / abc))`` with ``min_length=20``.
    """
    min_length = SUPERCELL_RULES[rule]
    lengths = np.linalg.norm(np.asarray(atoms.get_cell()), axis=1)
    return np.diag(np.ceil(min_length / lengths).astype(int))


def load_cv_reference(
    dataset: str, material_id: str, data_dir: Path | None = None
) -> PhononReference:
    """Reference for the MatCalc Cv set: structure and Cv(300 K) only, supercell by rule."""
    entry, relpath, digest = _entry(dataset, material_id, data_dir)
    rule = get_dataset(dataset).supercell_rule
    try:
        atoms = structure_to_atoms(entry["structure"])
        cv = float(entry["heat_capacity"])
    except (KeyError, TypeError, ValueError) as err:
        raise MalformedReferenceError(f"{material_id} in {relpath}: {err}") from err
    return PhononReference(
        material_id=material_id,
        dataset=dataset,
        unit_cell=atoms,
        supercell_matrix=supercell_rule_matrix(atoms, rule),
        primitive_matrix=None,
        phonopy=None,
        stored={"temperatures_K": [300.0], "heat_capacity_J_per_K_mol": [cv]},
        source=relpath,
        sha256=digest,
    )


def load_elastic_reference(
    dataset: str, material_id: str, data_dir: Path | None = None
) -> ElasticReference:
    """DFT K_VRH and G_VRH (GPa) and the MP structure of one material."""
    entry, relpath, digest = _entry(dataset, material_id, data_dir)
    try:
        atoms = structure_to_atoms(entry["structure"])
        k, g = float(entry["bulk_modulus_vrh"]), float(entry["shear_modulus_vrh"])
    except (KeyError, TypeError, ValueError) as err:
        raise MalformedReferenceError(f"{material_id} in {relpath}: {err}") from err
    if not (np.isfinite(k) and np.isfinite(g)):
        raise MalformedReferenceError(f"{material_id} in {relpath}: non-finite moduli")
    return ElasticReference(material_id, dataset, atoms, k, g, relpath, digest)
