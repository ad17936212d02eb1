"""Reference data: data set definitions, subsets, file lookup and loaders."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.locate import DataChecksumError, DataNotFoundError, sha256_of
from bench.datasets.matcalc import ElasticReference, load_cv_reference, load_elastic_reference
from bench.datasets.mdr import load_mdr_reference, mdr_files
from bench.datasets.reference import MalformedReferenceError, PhononReference
from bench.datasets.registry import (
    DatasetInfo,
    get_dataset,
    list_datasets,
    resolve_subset,
    subsets,
)


def load_phonon_reference(
    dataset: str, material_id: str, data_dir: Path | None = None
) -> PhononReference:
    """Phonon reference of one material from an MDR or MatCalc Cv data set."""
    info = get_dataset(dataset)
    if info.format == "mdr":
        return load_mdr_reference(dataset, material_id, data_dir)
    if info.format == "matcalc-phonon":
        return load_cv_reference(dataset, material_id, data_dir)
    raise ValueError(f"{dataset} is not a phonon data set")


def dataset_checksums(
    dataset: str, material_ids: list[str], data_dir: Path | None = None
) -> dict[str, str]:
    """sha256 of every file the given materials use (fetching and verifying each).

    Raises DataNotFoundError before any work when a file is missing and cannot be downloaded.
    """
    info = get_dataset(dataset)
    if info.format == "mdr":
        out = {}
        for material_id in material_ids:
            for rel, path in mdr_files(dataset, material_id, data_dir).items():
                out[rel] = sha256_of(path)
        return out
    from bench.datasets.locate import fetch

    assert info.file is not None
    path = fetch(info.file, info.upstream, info.sha256(info.file), data_dir)
    return {info.file: sha256_of(path)}


__all__ = [
    "DataChecksumError",
    "DataNotFoundError",
    "DatasetInfo",
    "ElasticReference",
    "MalformedReferenceError",
    "PhononReference",
    "dataset_checksums",
    "get_dataset",
    "list_datasets",
    "load_elastic_reference",
    "load_phonon_reference",
    "resolve_subset",
    "subsets",
]
