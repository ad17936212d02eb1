"""MDR (Alexandria PBE phonon benchmark) files, in either of two layouts.

- published: ``mdr/pbe/{id}.yaml.bz2``, a phonopy yaml with extra keys ``free_e`` (kJ/mol),
  ``entropy`` and ``heat_capacity`` (J/(K mol)), ``temperatures`` (K) and ``phonon_freq``
  (THz, at the supercell's commensurate points);
- phonopy re-save: ``mdr/benchmark_app/{id}/force_constants.yaml.xz`` +
  ``thermal_properties.json``.

Each yaml is parsed once (PyYAML CSafeLoader); the supercell and primitive matrices come from
the file, never guessed, and the Phonopy object is built from that parse with the same steps
as ``phonopy.load(path, primitive_matrix=<file or identity>, produce_fc=False, is_nac=False)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from phonopy import Phonopy
from phonopy.harmonic.force_constants import full_fc_to_compact_fc
from phonopy.interface.phonopy_yaml import load_phonopy_yaml

from bench.bounded import (
    REFERENCE,
    REFERENCE_DECOMPRESSED,
    FastSafeLoader,
    load_yaml,
    read_bytes,
    read_decompressed,
    read_json,
)
from bench.datasets.locate import (
    DataNotFoundError,
    cache_dir,
    download_verified,
    embedded_dir,
    fetch_file,
    search_dirs,
    sha256_of,
)
from bench.datasets.reference import (
    MalformedReferenceError,
    PhononReference,
    check_cell,
    check_supercell,
)
from bench.datasets.registry import DatasetInfo, get_dataset, natural_key
from bench.names import safe_name
from bench.settings import THZ_TO_K_MDR

_STORED_KEYS = {  # published yaml key -> PhononReference.stored key
    "free_e": "free_energy_kJ_per_mol",
    "entropy": "entropy_J_per_K_mol",
    "heat_capacity": "heat_capacity_J_per_K_mol",
}
_THERMAL_KEYS = {  # thermal_properties.json key -> PhononReference.stored key
    "free_energy": "free_energy_kJ_per_mol",
    "entropy": "entropy_J_per_K_mol",
    "heat_capacity": "heat_capacity_J_per_K_mol",
}


def read_yaml(path: Path) -> dict[str, Any]:
    """The yaml mapping of a plain, .xz, .bz2 or .gz file, read within the limits of
    :mod:`bench.bounded`; MalformedReferenceError naming the file if unreadable."""
    error = MalformedReferenceError
    data = read_decompressed(path, REFERENCE, REFERENCE_DECOMPRESSED, error)
    raw = load_yaml(data, error, str(path), loader=FastSafeLoader)
    if not isinstance(raw, dict):
        raise MalformedReferenceError(f"{path.name}: not a yaml mapping")
    return raw


def _matrix(value: Any, key: str, path: Path, integer: bool = False) -> np.ndarray:
    """A finite, non-singular 3x3 matrix from the file (integer-valued if ``integer``)."""
    try:
        matrix = np.array(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise MalformedReferenceError(f"{path.name}: {key} is not numeric ({err})") from err
    if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)):
        raise MalformedReferenceError(f"{path.name}: {key} is not a finite 3x3 matrix")
    if abs(np.linalg.det(matrix)) < 1e-8:
        raise MalformedReferenceError(f"{path.name}: {key} is singular")
    if integer:
        if not np.allclose(matrix, np.rint(matrix)):
            raise MalformedReferenceError(f"{path.name}: {key} is not integer")
        return np.rint(matrix).astype(int)
    return matrix


def reference_matrices(raw: dict[str, Any], path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(supercell_matrix (3,3) int, primitive_matrix (3,3) float or None) as stored in a file."""
    if "supercell_matrix" not in raw:
        raise MalformedReferenceError(f"{path.name}: no supercell_matrix")
    supercell = _matrix(raw["supercell_matrix"], "supercell_matrix", path, integer=True)
    primitive = raw.get("primitive_matrix")
    if primitive is None:
        return supercell, None
    return supercell, _matrix(primitive, "primitive_matrix", path)


def build_phonopy(raw: dict[str, Any], path: Path) -> Phonopy:
    """Phonopy object of a parsed phonopy yaml, with its force constants (eV/Å²).

    Primitive matrix: the file's, or the identity when absent (never phonopy's "auto"); no
    NAC; stored force constants as they are (compact form), else refit from the stored forces.
    """
    supercell, primitive = reference_matrices(raw, path)
    if "unit_cell" not in raw:
        raise MalformedReferenceError(f"{path.name}: no unit_cell")
    try:
        data = load_phonopy_yaml(raw)
        check_cell(data.unitcell.cell, path.name)
        check_supercell(len(data.unitcell), supercell, path.name)
        ph = Phonopy(
            data.unitcell,
            supercell_matrix=supercell,
            primitive_matrix=np.eye(3) if primitive is None else primitive,
            symprec=1e-5,
            calculator=data.calculator,
        )
        if data.dataset is not None:
            ph.dataset = data.dataset
        fc = data.force_constants
        if fc is not None:
            if fc.shape[0] == fc.shape[1] and len(ph.primitive) != len(ph.supercell):
                fc = full_fc_to_compact_fc(ph.primitive, fc)
            ph.force_constants = fc
        elif ph.dataset is not None and ph.forces is not None:
            ph.produce_force_constants()
    except MalformedReferenceError:  # check_cell, check_supercell: named already
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as err:
        raise MalformedReferenceError(f"{path.name}: bad phonopy data ({err!r})") from err
    if ph.force_constants is None:
        raise MalformedReferenceError(f"{path.name}: neither force constants nor forces")
    return ph


def _atoms(ph: Phonopy) -> Atoms:
    cell = ph.unitcell
    return Atoms(
        symbols=cell.symbols,
        cell=cell.cell,
        scaled_positions=cell.scaled_positions,
        masses=cell.masses,
        pbc=True,
    )


def _series(source: dict[str, Any], keys: dict[str, str], temps_key: str, where: str) -> dict:
    """Temperatures (K) and the aligned thermal series of a file, as ``stored`` entries."""
    try:
        stored = {"temperatures_K": [float(t) for t in source[temps_key]]}
        for key, name in keys.items():
            stored[name] = [float(v) for v in source[key]]
    except (KeyError, TypeError, ValueError) as err:
        raise MalformedReferenceError(f"{where}: missing or bad thermal values ({err!r})") from err
    if any(len(v) != len(stored["temperatures_K"]) for v in stored.values()):
        raise MalformedReferenceError(f"{where}: thermal values not aligned with temperatures")
    return stored


def _files(info: DatasetInfo, layout: str, material_id: str) -> list[str]:
    keys = ("phonopy", "thermal") if layout == "phonopy" else ("published",)
    return [info.layout[k].format(material_id=material_id) for k in keys]


def layout_of(info: DatasetInfo, material_id: str, data_dir: Path | None = None) -> str:
    """``"phonopy"`` or ``"published"``: the first data directory (``--data-dir`` first) that
    holds the material decides, the phonopy re-save first within it; nowhere local: the
    published file, downloaded from upstream."""
    for directory in search_dirs(data_dir):
        for layout in ("phonopy", "published"):
            if (directory / _files(info, layout, material_id)[0]).is_file():
                return layout
    return "published"


def mdr_files(dataset: str, material_id: str, data_dir: Path | None = None) -> dict[str, Path]:
    """Relpath -> local path of the files one MDR material is read from (fetched if needed).
    A material id that is not a plain file name (``../``, markup: from a crafted record or a
    data file's name) reads nothing: MalformedReferenceError."""
    if safe_name(material_id) != material_id:
        raise MalformedReferenceError(f"material id {material_id!r} is not a plain file name")
    info = get_dataset(dataset)
    rels = _files(info, layout_of(info, material_id, data_dir), material_id)
    return {r: fetch_file(r, info.urls(r), info.sha256(r), data_dir) for r in rels}


def load_mdr_reference(
    dataset: str, material_id: str, data_dir: Path | None = None
) -> PhononReference:
    """MDR reference of one material (layout chosen by :func:`layout_of`)."""
    info = get_dataset(dataset)
    paths = mdr_files(dataset, material_id, data_dir)
    (main, main_path), *rest = paths.items()
    raw = read_yaml(main_path)
    supercell, primitive = reference_matrices(raw, main_path)
    if rest:  # phonopy re-save: values in thermal_properties.json
        thermal_rel, thermal_path = rest[0]
        thermal = read_json(thermal_path, REFERENCE, MalformedReferenceError, thermal_rel)
        if not isinstance(thermal, dict):
            raise MalformedReferenceError(f"{thermal_rel}: not a json object")
        stored = _series(thermal, _THERMAL_KEYS, "temperatures", thermal_rel)
    else:  # published: values appended to the yaml by MDR's calc_ref.py
        stored = _series(raw, _STORED_KEYS, "temperatures", main)
        freqs = raw.get("phonon_freq")
        if freqs is not None:
            try:
                stored["omega_max_K"] = float(np.max(np.asarray(freqs, float)) * THZ_TO_K_MDR)
            except (TypeError, ValueError) as err:
                raise MalformedReferenceError(f"{main}: bad phonon_freq ({err})") from err
    ph = build_phonopy(raw, main_path)
    return PhononReference(
        material_id=material_id,
        dataset=info.name,
        unit_cell=_atoms(ph),
        supercell_matrix=supercell,
        primitive_matrix=primitive,
        phonopy=ph,
        stored=stored,
        source=main,
        sha256=sha256_of(main_path),
    )


def _listing_ids(html: str) -> set[str]:
    return set(re.findall(r'href="(?:[^"]*/)?([A-Za-z0-9_.-]+?)\.yaml\.bz2"', html))


def upstream_listing(info: DatasetInfo, data_dir: Path | None = None) -> set[str] | None:
    """Material ids of the upstream directory listing (HTML index of ``{id}.yaml.bz2``).

    Read from ``<data dir>/<layout listing>`` when present, else downloaded once into the
    cache (kept: delete it to refresh). None when absent and offline.
    """
    rel = info.layout.get("listing")
    if rel is None:
        return None
    for directory in search_dirs(data_dir):
        if (directory / rel).exists():
            return _listing_ids(_listing_text(directory / rel))
    url = info.upstream.rsplit("/", 1)[0] + "/"
    dest = download_verified([url], cache_dir() / rel, None)
    return None if dest is None else _listing_ids(_listing_text(dest))


def _listing_text(path: Path) -> str:
    return read_bytes(path, REFERENCE, DataNotFoundError).decode("utf-8", "replace")


def discover_ids(dataset: str, data_dir: Path | None = None) -> list[str]:
    """Every MDR material: files present in the data directories plus the upstream listing.

    No id list of the upstream directory is published, so ``mdr-full`` is defined as this
    union; it depends on what is on disk and on whether the listing was fetched (it is cached
    after the first online call). The package's embedded smoke files are not counted: they
    are a fallback copy of ``mdr-smoke``, not a data directory. Raises DataNotFoundError when
    nothing is found.
    """
    info = get_dataset(dataset)
    ids: set[str] = set()
    for directory in (d for d in search_dirs(data_dir) if d != embedded_dir()):
        for key in ("phonopy", "published"):
            pattern = info.layout[key].replace("{material_id}", "*")
            for path in directory.glob(pattern):
                rel = path.relative_to(directory).as_posix()
                prefix, suffix = info.layout[key].split("{material_id}")
                ids.add(rel[len(prefix) : len(rel) - len(suffix)])
    listed = upstream_listing(info, data_dir)
    ids |= listed or set()
    if not ids:
        dirs = ", ".join(str(d) for d in search_dirs(data_dir))
        raise DataNotFoundError(
            f"no {dataset} material found in {dirs} and the upstream listing "
            f"{info.upstream.rsplit('/', 1)[0]}/ could not be read (offline?)"
        )
    return sorted(ids, key=natural_key)
