"""Data set definitions (``datasets/*.json``) and named subsets (``datasets/subsets/*.txt``)."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from bench.datasets.locate import search_dirs


def definitions_dir() -> Path:
    """``bench/_datasets`` in an installed wheel, else the checkout's ``datasets/``."""
    packaged = Path(__file__).resolve().parents[1] / "_datasets"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "datasets"


@dataclass(frozen=True)
class DatasetInfo:
    """One benchmark data set: where it comes from, its licence, files and subsets."""

    name: str
    task: str
    format: str
    description: str
    licence: str
    citation: str
    upstream: str
    files: dict[str, str | None]  # relpath -> sha256 (None: not known)
    subsets: dict[str, str | None]  # subset -> id list file (None: every material)
    layout: dict[str, str] = field(default_factory=dict)
    file: str | None = None  # single-file data sets (MatCalc)
    supercell_rule: str | None = None

    def sha256(self, relpath: str) -> str | None:
        return self.files.get(relpath)


@cache
def _definitions() -> dict[str, DatasetInfo]:
    out = {}
    for path in sorted(definitions_dir().glob("*.json")):
        raw: dict[str, Any] = json.loads(path.read_text())
        out[raw["name"]] = DatasetInfo(**raw)
    return out


def list_datasets() -> list[DatasetInfo]:
    return list(_definitions().values())


def get_dataset(name: str) -> DatasetInfo:
    try:
        return _definitions()[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(_definitions())}") from None


def subsets() -> dict[str, str]:
    """Subset name -> data set name."""
    return {s: d.name for d in list_datasets() for s in d.subsets}


def _natural(material_id: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", material_id))


def _discover_mdr(info: DatasetInfo, data_dir: Path | None) -> list[str]:
    ids: set[str] = set()
    for directory in search_dirs(data_dir):
        ids |= {p.parent.name for p in directory.glob("mdr/benchmark_app/*/force_constants.yaml*")}
        ids |= {p.name.split(".")[0] for p in directory.glob("mdr/pbe/*.yaml.bz2")}
    return sorted(ids, key=_natural)


def resolve_subset(subset: str, data_dir: Path | None = None) -> tuple[str, list[str]]:
    """(data set name, material ids) of a named subset, in a stable order.

    A subset without an id list means every material: all entries of a single-file set, or,
    for MDR, every material found in the data directories.
    """
    owners = subsets()
    if subset not in owners:
        close = difflib.get_close_matches(subset, list(owners), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown subset {subset!r}{hint} (known: {', '.join(owners)})")
    info = get_dataset(owners[subset])
    listing = info.subsets[subset]
    if listing is not None:
        lines = (definitions_dir() / listing).read_text().split()
        return info.name, [line.strip() for line in lines if line.strip()]
    if info.format == "mdr":
        return info.name, _discover_mdr(info, data_dir)
    from bench.datasets.matcalc import load_entries

    return info.name, sorted(load_entries(info.name, data_dir), key=_natural)
