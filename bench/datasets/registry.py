"""Data set definitions (``datasets/*.json``) and named subsets (``datasets/subsets/*.txt``)."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from bench.datasets.locate import fetch_file

FORMATS = ("mdr", "matcalc-phonon", "matcalc-elastic")


def definitions_dir() -> Path:
    """``bench/_datasets`` in an installed wheel, else the checkout's ``datasets/``."""
    packaged = Path(__file__).resolve().parents[1] / "_datasets"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "datasets"


@dataclass(frozen=True)
class DatasetInfo:
    """One benchmark data set: where it comes from, its licence, known files and subsets.

    ``files`` maps a path relative to the data directory to its sha256 (None: not known).
    ``upstream`` is the download URL; for MDR it has a ``{material_id}`` field.
    """

    name: str
    task: str
    format: str
    description: str
    licence: str
    citation: str
    upstream: str
    files: dict[str, str | None]
    subsets: dict[str, str | None]  # subset -> id list file (None: every material)
    layout: dict[str, str] = field(default_factory=dict)  # MDR: file patterns per layout
    file: str | None = None  # single-file data sets (MatCalc)
    #: the protocol of the data's source (bench.protocols), the default of a run on it
    protocol: str | None = None
    #: phonon sets: what "per mole" counts ("primcell": primitive cells of the reference's
    #: primitive_matrix, MDR; "cell": the cell as given, MatCalc's Cv set)
    basis: str | None = None
    mirrors: list[str] = field(default_factory=list)  # other URLs of the same content
    #: MatCalc sets: the package's copy of some subsets' entries (``file``, ``sha256``,
    #: ``subsets``), read when the full file is neither local nor downloadable; MDR: the
    #: embedded ``subsets`` and the sha256 of the other ``files`` the package copies (for tests)
    embedded: dict[str, Any] = field(default_factory=dict)

    def sha256(self, relpath: str) -> str | None:
        """Recorded sha256 of a file (None when not known)."""
        return self.files.get(relpath)

    def urls(self, relpath: str) -> list[str]:
        """Download URLs of a file, upstream first; empty when it has no public source."""
        if self.file is not None:
            return [self.upstream, *self.mirrors] if relpath == self.file else []
        pattern = self.layout.get("published")
        if pattern is None:
            return []
        regex = re.escape(pattern).replace(re.escape("{material_id}"), "(?P<id>[^/]+)")
        match = re.fullmatch(regex, relpath)
        if match is None:
            return []
        return [u.format(material_id=match["id"]) for u in (self.upstream, *self.mirrors)]


@cache
def _definitions() -> dict[str, DatasetInfo]:
    out = {}
    for path in sorted(definitions_dir().glob("*.json")):
        raw: dict[str, Any] = json.loads(path.read_text())
        info = DatasetInfo(**raw)
        if info.format not in FORMATS:
            raise ValueError(f"{path.name}: unknown format {info.format!r}")
        out[info.name] = info
    return out


def list_datasets() -> list[DatasetInfo]:
    """Every defined data set, by name."""
    return list(_definitions().values())


def get_dataset(name: str) -> DatasetInfo:
    """Definition of one data set; ValueError listing the known ones when unknown."""
    try:
        return _definitions()[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_definitions()), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(_definitions())
        raise ValueError(f"unknown data set {name!r}{hint} (known: {known})") from None


def subsets() -> dict[str, str]:
    """Subset name -> data set name."""
    return {s: d.name for d in list_datasets() for s in d.subsets}


def natural_key(material_id: str) -> tuple:
    """Sort key that orders ``mp-2`` before ``mp-10``."""
    return tuple(
        (0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", material_id)
    )


#: the run order of a subset without an id list (``seeded_order``); fixed before any result
SEEDED_ORDER_SEED = "bench-0"


def seeded_order(material_ids: list[str], seed: str = SEEDED_ORDER_SEED) -> list[str]:
    """``material_ids`` in a fixed random order: by sha256 of ``seed:id``. Every prefix is a
    uniform random sample, and any set of ids keeps the order it has within a larger one, so
    the order stays the same when the set grows (MDR's upstream listing, a new data file)."""
    key = lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()  # noqa: E731
    return sorted(material_ids, key=key)


def read_id_list(path: Path) -> list[str]:
    """Material ids of a subset file: one per line, ``#`` comments, order kept, no repeats."""
    ids = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return list(dict.fromkeys(i for i in ids if i))


def fetch(dataset: str, relpath: str, data_dir: Path | None = None) -> Path:
    """Local path of one file of ``dataset`` (verified, downloaded into the cache if needed)."""
    info = get_dataset(dataset)
    return fetch_file(relpath, info.urls(relpath), info.sha256(relpath), data_dir)
