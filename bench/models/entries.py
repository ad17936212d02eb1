"""The fields of a models-file entry, a ``[tool.bench.models]`` table or a plug-in's mapping:
those bench uses, checked; ml-peg's metadata (training data, level of theory, dispersion) and
any other field, kept as the entry's ``metadata`` (shown in tables, recorded in manifests),
never refused, so ml-peg's ``models.yml`` loads as it is."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from bench.bounded import KWARGS, check_entry_size, check_json_size, yaml_value
from bench.errors import ConfigurationError
from bench.models.model_args import is_plain, plain_value

IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
#: fields of an entry that bench uses (``import``, or ml-peg's ``module`` + ``class_name``)
FIELDS = ("import", "kwargs", "checkpoint", "dtype", "device", "python", "description")
#: ml-peg's metadata fields (ml_peg/models/models.yml), shown in tables where set
METADATA = (
    "datasets",
    "level_of_theory",
    "trained_on_dispersion",
    "dispersion_kwargs",
    "additional_supported_elements",
    "load_path",
)


def is_import_path(name: str) -> bool:
    """``module:attr`` (dotted on both sides), as opposed to a catalogue key."""
    return bool(IMPORT_PATH.match(name.strip()))


def parse_model_args(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; VALUE read as YAML (``3``, ``0.5``, ``true``, ``[1, 2]``), else text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigurationError(f"--model-arg wants KEY=VALUE, got {item!r}")
        if key.strip() in out:  # the last would win without a word
            raise ConfigurationError(f"--model-arg {key.strip()} given twice: give it once")
        out[key.strip()] = plain_value(yaml_value(value, f"--model-arg {key.strip()}"), item)
    check_json_size(out, KWARGS, ConfigurationError, "--model-arg values")
    return out


def check_entry(name: str, entry: Any, origin: str) -> dict[str, Any]:
    """A models-file or plug-in entry, validated: the fields bench uses, plus ``metadata``
    (every other field, as given). ml-peg's ``module`` + ``class_name`` is an import path, and
    its ``device: auto`` bench's own choice."""
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{origin}: model {name!r} must be a mapping of fields")
    entry = dict(entry)
    if ("module" in entry) != ("class_name" in entry) and "import" not in entry:
        raise ConfigurationError(
            f"{origin}: model {name!r} has {'module' if 'module' in entry else 'class_name'} "
            "without the other (ml-peg's form: module: a.b, class_name: Factory)"
        )
    if "module" in entry and "class_name" in entry and "import" not in entry:
        entry["import"] = f"{entry.pop('module')}:{entry.pop('class_name')}"
    if not is_import_path(str(entry.get("import", ""))):
        raise ConfigurationError(f"{origin}: model {name!r} needs import: module:function")
    if entry.get("kwargs") is None:
        entry["kwargs"] = {}
    if not isinstance(entry["kwargs"], dict):
        raise ConfigurationError(f"{origin}: model {name!r}: kwargs must be a mapping")
    if not is_plain(entry.get("kwargs", {})):
        raise ConfigurationError(
            f"{origin}: model {name!r}: kwargs hold a value that is not plain (text, numbers, "
            "true/false, lists, mappings: quote a date or a tagged value)"
        )
    if str(entry.get("device", "")).strip().lower() == "auto":
        entry.pop("device")  # bench picks (--device, else the best there is)
    metadata = {k: v for k, v in entry.items() if k not in FIELDS and k != "metadata"}
    for other in metadata:  # kept, unless it looks like a misspelt field bench uses
        close = difflib.get_close_matches(other, [*FIELDS, "module", "class_name"], 1, 0.8)
        if close and other not in METADATA:
            raise ConfigurationError(
                f"{origin}: model {name!r} has unknown field(s) {other}; did you mean "
                f"{close[0]}? (other fields are kept as the model's metadata)"
            )
    kept = {k: v for k, v in entry.items() if k in FIELDS}
    metadata = {**(entry.get("metadata") or {}), **metadata}
    check_entry_size(name, entry, origin)
    check_json_size(metadata, KWARGS, ConfigurationError, f"{origin}: fields of {name!r}")
    return {**kept, "metadata": metadata, "origin": origin}


def training_text(metadata: dict[str, Any] | None) -> str:
    """ml-peg's metadata in a few words: ``MPtrj, sAlex; PBE; D3 dispersion`` ("" for none)."""
    if not metadata:
        return ""
    parts = []
    datasets = metadata.get("datasets")
    if datasets:
        parts.append(", ".join(map(str, datasets)) if isinstance(datasets, list) else str(datasets))
    if metadata.get("level_of_theory"):
        parts.append(str(metadata["level_of_theory"]))
    if metadata.get("trained_on_dispersion"):
        parts.append("trained on dispersion")
    elif metadata.get("dispersion_kwargs"):
        parts.append("+ dispersion correction")
    return "; ".join(parts)
