"""MDR (Alexandria PBE phonon benchmark) files, in either layout.

- published: ``{id}.yaml.bz2``, a phonopy yaml with extra keys ``free_e`` (kJ/mol),
  ``entropy`` and ``heat_capacity`` (J/(K mol)), ``temperatures`` and ``phonon_freq`` (THz);
- phonopy re-save: ``force_constants.yaml.xz`` + ``thermal_properties.json``.

Supercell and primitive matrices are read from the file, never guessed.
"""

from __future__ import annotations

import bz2
import json
import lzma
from pathlib import Path

import numpy as np
import yaml
from phonopy import Phonopy
from phonopy.interface.phonopy_yaml import PhonopyYaml

from bench.datasets.locate import fetch, search_dirs, sha256_of
from bench.datasets.reference import MalformedReferenceError, PhononReference
from bench.datasets.registry import DatasetInfo, get_dataset
from bench.settings import THZ_TO_K_MDR


def _matrix(value, name: str, path: Path) -> np.ndarray:
    matrix = np.array(value, dtype=float)
    if matrix.shape != (3, 3):
        raise MalformedReferenceError(f"{path.name}: {name} is not 3x3")
    return matrix


def _phonopy_from_yaml(path: Path) -> tuple[Phonopy, np.ndarray, np.ndarray | None]:
    """Phonopy object with the stored force constants (or refit from stored forces)."""
    reader = PhonopyYaml()
    try:
        reader.read(str(path))
    except (
        OSError,
        EOFError,
        lzma.LZMAError,
        yaml.YAMLError,
        KeyError,
        TypeError,
        ValueError,
    ) as err:
        raise MalformedReferenceError(f"{path.name}: unreadable phonopy yaml ({err})") from err
    if reader.unitcell is None or reader.supercell_matrix is None:
        raise MalformedReferenceError(f"{path.name}: no unit_cell or supercell_matrix")
    supercell = _matrix(reader.supercell_matrix, "supercell_matrix", path)
    primitive = (
        None
        if reader.primitive_matrix is None
        else _matrix(reader.primitive_matrix, "primitive_matrix", path)
    )
    ph = Phonopy(
        reader.unitcell,
        supercell_matrix=supercell.astype(int),
        primitive_matrix=np.eye(3) if primitive is None else primitive,
    )
    if reader.force_constants is not None:
        ph.force_constants = reader.force_constants
    elif reader.dataset is not None:
        ph.dataset = reader.dataset
        ph.produce_force_constants()
    else:
        raise MalformedReferenceError(f"{path.name}: neither force constants nor forces")
    return ph, supercell.astype(int), primitive


def _ase(ph: Phonopy):
    from bench.phonons import to_ase_atoms

    return to_ase_atoms(ph.unitcell)


def _load_resaved(info: DatasetInfo, material_id: str, data_dir: Path | None) -> PhononReference:
    fc_rel = info.layout["phonopy"].format(material_id=material_id)
    tp_rel = info.layout["thermal"].format(material_id=material_id)
    fc_path = fetch(fc_rel, None, info.sha256(fc_rel), data_dir)
    tp_path = fetch(tp_rel, None, info.sha256(tp_rel), data_dir)
    ph, supercell, primitive = _phonopy_from_yaml(fc_path)
    try:
        thermal = json.loads(tp_path.read_text())
        stored = {
            "temperatures_K": [float(t) for t in thermal["temperatures"]],
            "free_energy_kJ_per_mol": [float(v) for v in thermal["free_energy"]],
            "entropy_J_per_K_mol": [float(v) for v in thermal["entropy"]],
            "heat_capacity_J_per_K_mol": [float(v) for v in thermal["heat_capacity"]],
        }
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise MalformedReferenceError(f"{tp_rel}: unreadable thermal properties ({err})") from err
    return PhononReference(
        material_id,
        info.name,
        _ase(ph),
        supercell,
        primitive,
        ph,
        stored,
        fc_rel,
        sha256_of(fc_path),
    )


def _load_published(info: DatasetInfo, material_id: str, data_dir: Path | None) -> PhononReference:
    rel = info.layout["published"].format(material_id=material_id)
    url = info.upstream.format(material_id=material_id)
    path = fetch(rel, url, info.sha256(rel), data_dir)
    ph, supercell, primitive = _phonopy_from_yaml(path)
    try:
        with bz2.open(path, "rt") as handle:
            raw = yaml.load(handle, Loader=yaml.CSafeLoader)
        stored = {
            "temperatures_K": [float(t) for t in raw["temperatures"]],
            "free_energy_kJ_per_mol": [float(v) for v in raw["free_e"]],
            "entropy_J_per_K_mol": [float(v) for v in raw["entropy"]],
            "heat_capacity_J_per_K_mol": [float(v) for v in raw["heat_capacity"]],
        }
        if raw.get("phonon_freq") is not None:
            stored["omega_max_K"] = float(np.max(raw["phonon_freq"]) * THZ_TO_K_MDR)
    except (OSError, EOFError, yaml.YAMLError, KeyError, TypeError, ValueError) as err:
        raise MalformedReferenceError(f"{rel}: missing MDR values ({err})") from err
    return PhononReference(
        material_id, info.name, _ase(ph), supercell, primitive, ph, stored, rel, sha256_of(path)
    )


def _layout(info: DatasetInfo, material_id: str, data_dir: Path | None) -> str:
    """Which layout to read: the first data directory (``--data-dir`` first) that holds the
    material decides; within it the phonopy re-save wins. Nowhere local: the published file,
    downloaded from upstream."""
    for directory in search_dirs(data_dir):
        if (directory / info.layout["phonopy"].format(material_id=material_id)).is_file():
            return "phonopy"
        if (directory / info.layout["published"].format(material_id=material_id)).is_file():
            return "published"
    return "published"


def load_mdr_reference(
    dataset: str, material_id: str, data_dir: Path | None = None
) -> PhononReference:
    """MDR reference of one material (see :func:`_layout` for which file is read)."""
    info = get_dataset(dataset)
    if _layout(info, material_id, data_dir) == "phonopy":
        return _load_resaved(info, material_id, data_dir)
    return _load_published(info, material_id, data_dir)


def mdr_files(dataset: str, material_id: str, data_dir: Path | None = None) -> dict[str, Path]:
    """The local files of one MDR material (fetching the published file if needed)."""
    info = get_dataset(dataset)
    if _layout(info, material_id, data_dir) == "phonopy":
        rels = [info.layout[k].format(material_id=material_id) for k in ("phonopy", "thermal")]
        return {rel: fetch(rel, None, info.sha256(rel), data_dir) for rel in rels}
    rel = info.layout["published"].format(material_id=material_id)
    url = info.upstream.format(material_id=material_id)
    return {rel: fetch(rel, url, info.sha256(rel), data_dir)}
