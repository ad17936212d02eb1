"""Reference data: data set definitions, subsets, file lookup, checksums and loaders.

Data directories are searched in this order: ``--data-dir``, ``$BENCH_DATA``, the user cache
(``${XDG_CACHE_HOME:-~/.cache}/bench/data``, filled from upstream when online).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
from ase import Atoms

from bench.datasets.locate import (
    DataChecksumError,
    DataNotFoundError,
    fetch_file,
    find_data_dir,
    sha256_of,
)
from bench.datasets.matcalc import (
    ElasticReference,
    load_cv_reference,
    load_elastic_reference,
    load_entries,
    matcalc_file,
    require_entries,
)
from bench.datasets.mdr import discover_ids, load_mdr_reference, mdr_files
from bench.datasets.reference import MalformedReferenceError, PhononReference
from bench.datasets.registry import (
    DatasetInfo,
    definitions_dir,
    fetch,
    get_dataset,
    list_datasets,
    read_id_list,
    seeded_order,
    subsets,
)


def load_phonon_reference(
    dataset: str, material_id: str, data_dir: Path | None = None
) -> PhononReference:
    """Phonon reference of one material of an MDR or MatCalc Cv data set."""
    info = get_dataset(dataset)
    if info.format == "mdr":
        return load_mdr_reference(dataset, material_id, data_dir)
    if info.format == "matcalc-phonon":
        return load_cv_reference(dataset, material_id, data_dir)
    raise ValueError(f"{dataset} is not a phonon data set (task {info.task})")


def load_structure(
    dataset: str, material_id: str, data_dir: Path | None = None
) -> tuple[Atoms, str, str]:
    """(structure in Å, source file relpath, its sha256) of one material of any data set: the
    reference unit cell of a phonon set (MDR, MatCalc Cv), the MP structure of an elastic set."""
    info = get_dataset(dataset)
    if info.format == "matcalc-elastic":
        elastic = load_elastic_reference(dataset, material_id, data_dir)
        return elastic.structure.copy(), elastic.source, elastic.sha256
    phonon = load_phonon_reference(dataset, material_id, data_dir)
    return phonon.unit_cell.copy(), phonon.source, phonon.sha256


def dataset_checksums(
    dataset: str, material_ids: list[str], data_dir: Path | None = None
) -> dict[str, str]:
    """Relpath -> sha256 of every file the given materials are read from.

    Fetches (and verifies) each file, so it raises DataNotFoundError or DataChecksumError
    before any computation when the data is missing or corrupt.
    """
    info = get_dataset(dataset)
    if info.format == "mdr":
        out: dict[str, str] = {}
        for material_id in material_ids:
            for rel, path in mdr_files(dataset, material_id, data_dir).items():
                out[rel] = sha256_of(path)
        return out
    require_entries(dataset, material_ids, data_dir)
    path, relpath = matcalc_file(dataset, data_dir)
    if relpath != info.file:  # the embedded extract (verified): the full file's own entries
        return {info.file: info.sha256(info.file)}
    return {relpath: sha256_of(path)}


#: MatCalc 0.7.0 PhononCalc's default supercell length [Å] (``min_length: float = 20.0``)
MATCALC_MIN_LENGTH_A = 20.0


def size_hints(
    dataset: str,
    material_ids: list[str],
    data_dir: Path | None = None,
    min_length_A: float | None = None,
    contraction: float = 0.0,
) -> dict[str, float]:
    """A cheap, monotone proxy for each material's cost, to start the largest first.

    MatCalc sets: atoms in the evaluated cell (for the Cv set, MatCalc's supercell of
    ``min_length_A``, None: MatCalc's 20 Å, built on the unrelaxed cell scaled by
    ``1 - contraction``). The relaxed cell's supercell may have a layer more: of the first 850
    CHGNet records, 6 had more atoms than the unrelaxed cell's, 2 with a 2 % contraction. MDR:
    the size of the material's files (force constants grow as atoms²), read from the directory
    listing without parsing. Unknown materials get 0.
    """
    info = get_dataset(dataset)
    out: dict[str, float] = {}
    if info.format == "mdr":
        for material_id in material_ids:
            try:
                paths = mdr_files(dataset, material_id, data_dir).values()
                out[material_id] = float(sum(p.stat().st_size for p in paths))
            except (OSError, DataNotFoundError, DataChecksumError):
                out[material_id] = 0.0
        return out
    from bench.datasets.matcalc import load_entries, structure_to_atoms
    from bench.physics.supercells import min_length_supercell

    entries = load_entries(dataset, data_dir)
    for material_id in material_ids:
        entry = entries.get(material_id)
        if entry is None:
            out[material_id] = 0.0
            continue
        try:  # a malformed entry is that material's failure later, not the run's
            n_sites = float(len(entry["structure"]["sites"]))
            if info.format == "matcalc-phonon":
                atoms = structure_to_atoms(entry["structure"])
                atoms.set_cell(atoms.get_cell() * (1.0 - contraction), scale_atoms=True)
                length = MATCALC_MIN_LENGTH_A if min_length_A is None else min_length_A
                n_sites *= abs(round(float(np.linalg.det(min_length_supercell(atoms, length)))))
        except (KeyError, TypeError, ValueError):  # MalformedReferenceError is a ValueError
            n_sites = 0.0
        out[material_id] = n_sites
    return out


__all__ = [
    "DataChecksumError",
    "DataNotFoundError",
    "DatasetInfo",
    "ElasticReference",
    "MalformedReferenceError",
    "PhononReference",
    "dataset_checksums",
    "fetch",
    "fetch_file",
    "find_data_dir",
    "get_dataset",
    "list_datasets",
    "load_elastic_reference",
    "load_phonon_reference",
    "load_structure",
    "resolve_subset",
    "size_hints",
    "subsets",
]


def resolve_subset(subset: str, data_dir: Path | None = None) -> tuple[str, list[str]]:
    """(data set name, material ids) of a named subset, in a stable order.

    A subset without an id list means every material: all entries of a MatCalc file, or, for
    MDR, every material found in the data directories plus the upstream listing (see
    :func:`bench.datasets.mdr.discover_ids`), in :func:`seeded_order`, so that a partial run of
    it is an unbiased sample. Unknown subset: ValueError naming the closest matches.
    """
    owners = subsets()
    if subset not in owners:
        close = difflib.get_close_matches(subset, list(owners), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown subset {subset!r}{hint} (known: {', '.join(owners)})")
    info = get_dataset(owners[subset])
    listing = info.subsets[subset]
    if listing is not None:
        return info.name, read_id_list(definitions_dir() / listing)
    if info.format == "mdr":
        return info.name, seeded_order(discover_ids(info.name, data_dir))
    return info.name, seeded_order(list(load_entries(info.name, data_dir)))
