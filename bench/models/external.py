"""Models outside the catalogue: an import path ``module:attr`` (as ``uvicorn main:app``),
an entry of a models file (``--models-file``, as ml-peg's ``models.yml``) or a plug-in
(entry-point group ``bench.models``).

Each becomes a :class:`ModelSpec` of family ``imported`` (adapter :mod:`bench.models.imported`)
whose ``ref`` is a self-contained JSON token: workers (pool, family environment, Dask)
resolve that token and import the factory themselves, with the client's folders on their
``sys.path``. The factory's call returns an ASE calculator or a :class:`LoadedModel`.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import sys
import tomllib
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.bounded import (
    MODELS_FILE,
    load_yaml,
    read_text,
)
from bench.errors import ConfigurationError, ModelUnavailableError
from bench.models.entries import check_entry, is_import_path, parse_model_args
from bench.models.spec import ModelSpec

__all__ = ["check_entry", "is_import_path", "parse_model_args"]  # kept importable from here

FAMILY = "imported"
PLUGIN_GROUP = "bench.models"
#: dtype label of a factory that takes no ``dtype``: it computes in its own precision
NATIVE = "native"
_MODELS_FILE: dict[str, dict[str, Any]] = {}  # lower-case name -> entry (with "origin")
#: factories given as Python objects (bench.benchmark): they run in this process only
_OBJECTS: dict[str, Callable[..., Any]] = {}


def register_object(name: str, factory: Callable[..., Any], target: str) -> str:
    """A token for ``factory`` (described by ``target``, e.g. ``module:function``) that only
    this process can resolve: such a model runs with one worker, in this process."""
    key = f"{name}#{id(factory)}"
    _OBJECTS[key] = factory
    data = {"name": name, "origin": "Python object", "import": target, "object": key}
    return json.dumps({**data, "kwargs": {}, "path": []}, sort_keys=True)


def object_factory(key: str) -> Callable[..., Any]:
    """The factory :func:`register_object` kept; ModelUnavailableError in another process."""
    if key not in _OBJECTS:
        raise ModelUnavailableError(
            "a model given as a Python object (a calculator, or a factory defined in a script "
            "or a function) runs in the process that holds it only: use workers=1, or give "
            "an importable factory (module:function)"
        )
    return _OBJECTS[key]


def load_models_file(path: str | Path) -> list[str]:
    """Register the models of a YAML file (``name: {import, kwargs, ...}``); their names.

    Relative ``checkpoint`` and ``python`` paths are relative to the file's folder, which is
    also put on the import path (beside the current folder).
    """
    path = Path(path).expanduser().resolve()
    label = f"--models-file {path}"
    text = read_text(path, MODELS_FILE, ConfigurationError, label)
    raw = load_yaml(text, ConfigurationError, label) or {}
    return register(raw, path, f"models file {path}")


def load_project_models(folder: Path | None = None) -> list[str]:
    """Register the ``[tool.bench.models]`` tables of ``pyproject.toml`` in ``folder`` (the
    current one), if any; their names. Same fields as a models file."""
    path = (folder or Path.cwd()) / "pyproject.toml"
    if not path.exists():
        return []
    text = read_text(path, MODELS_FILE, ConfigurationError, f"{path} ([tool.bench.models])")
    try:
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as err:
        raise ConfigurationError(f"{path}: cannot read [tool.bench.models] ({err})") from err
    models = raw.get("tool", {}).get("bench", {}).get("models", {})
    return register(models, path.resolve(), f"{path.resolve()} [tool.bench.models]")


def register(raw: Any, path: Path, origin: str) -> list[str]:
    """Register the entries of a mapping read from ``path``; their names."""
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{origin}: a mapping of model names expected")
    for name, entry in raw.items():
        entry = check_entry(str(name), entry, origin)
        for field in ("checkpoint", "python"):
            if entry.get(field):  # ~ first: path.parent / "~/x" would be a folder named ~
                entry[field] = str(path.parent / Path(str(entry[field])).expanduser())
        entry["path"] = [str(path.parent)]
        _MODELS_FILE[str(name).lower()] = {**entry, "name": str(name)}
    return [str(name) for name in raw]


def is_registered(name: str) -> bool:
    """Whether a models file or the current project registered ``name`` (importing nothing)."""
    return name.strip().lower() in _MODELS_FILE


def forget_models_files() -> None:
    """Forget every registered models-file and project entry (a new session: tests)."""
    _MODELS_FILE.clear()
    _project_models_in.cache_clear()


def models_file_entries() -> dict[str, dict[str, Any]]:
    """The registered models-file entries (and the current project's), by name."""
    _project_models_once()
    return {entry["name"]: entry for entry in _MODELS_FILE.values()}


def plugin_entries() -> dict[str, dict[str, Any]]:
    """Models that installed packages register under the entry-point group ``bench.models``
    (name = the entry point's, its value the factory's import path), without importing them."""
    out = {}
    for point in metadata.entry_points(group=PLUGIN_GROUP):
        dist = getattr(point.dist, "name", None) or "unknown package"
        out[point.name] = {"import": point.value, "origin": f"plug-in {dist}", "plugin": True}
    return out


@lru_cache(maxsize=8)
def _project_models_in(folder: str) -> None:
    load_project_models(Path(folder))


def _project_models_once() -> None:
    """Register the current folder's ``[tool.bench.models]`` (once per folder)."""
    _project_models_in(str(Path.cwd()))


def find_entry(name: str) -> dict[str, Any] | None:
    """The models-file entry (or the current project's ``[tool.bench.models]``) or plug-in
    named ``name`` (case-insensitive), or None."""
    _project_models_once()
    entry = _MODELS_FILE.get(name.strip().lower())
    if entry is not None:
        return entry
    for key, plugin in plugin_entries().items():
        if key.lower() == name.strip().lower():
            return {**_plugin_fields(plugin), "name": key}
    return None


def _plugin_fields(plugin: dict[str, Any]) -> dict[str, Any]:
    """A plug-in whose object is a mapping gives the fields itself; else it is the factory."""
    try:
        target = import_target(plugin["import"], [])
    except ModelUnavailableError:
        return plugin
    if isinstance(target, dict):
        return check_entry(plugin["import"], target, plugin["origin"])
    return plugin


def import_target(target: str, paths: Sequence[str]) -> Any:
    """The object ``module:attr`` names, with ``paths`` first on ``sys.path``;
    ModelUnavailableError (one line) when it cannot be imported."""
    for folder in reversed(list(paths)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and f"{module_name}.".startswith(f"{err.name}."):  # itself
            raise ModelUnavailableError(
                f"cannot import {target}: no module {err.name} (is its folder the current "
                "one, beside the models file, or on PYTHONPATH?)"
            ) from err
        raise ModelUnavailableError(  # the module imports a package that is not installed
            f"cannot import {target}: module {module_name} needs {err.name}, which is not "
            f"installed here (pip install {str(err.name).split('.')[0]})"
        ) from err
    except (Exception, SystemExit) as err:  # the module's own error (or sys.exit) on import
        raise ModelUnavailableError(
            f"cannot import {target}: module {module_name} raised {type(err).__name__}: "
            f"{str(err).strip()[:200]}"
        ) from err
    for n, part in enumerate(attr.split(".")):
        if not hasattr(obj, part):
            where = ".".join([module_name, *attr.split(".")[:n]])
            raise ModelUnavailableError(
                f"cannot import {target}: module {module_name} was found, but {where} has no "
                f"attribute {part!r}"
            )
        obj = getattr(obj, part)
    return obj


def accepts(factory: Callable[..., Any], parameter: str) -> bool:
    """Whether ``factory`` (a function or class) takes ``parameter`` by name."""
    try:
        return parameter in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


def provenance(obj: Any) -> str:
    """``<distribution>==<version>`` of the package ``obj`` lives in, else the sha256 of its
    module's source file (a loose module), else ``unknown``."""
    module = inspect.getmodule(obj)
    if module is None:
        return "unknown"
    top = module.__name__.split(".")[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return f"{dist}=={metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    source = getattr(module, "__file__", None)
    if source and Path(source).is_file():
        return "sha256:" + hashlib.sha256(Path(source).read_bytes()).hexdigest()
    return "unknown"


def external_spec(name: str, model_args: Sequence[str] = ()) -> ModelSpec | None:
    """The spec of a models-file entry, plug-in or import path ``name`` (None: none of them)."""
    entry = find_entry(name)
    if entry is None:
        if not is_import_path(name):
            return None
        entry = {"import": name.strip(), "origin": "import path", "name": name.strip()}
    kwargs = {**entry.get("kwargs", {}), **parse_model_args(model_args)}
    fields = {k: entry.get(k) for k in ("import", "checkpoint", "dtype", "device", "python")}
    paths = [*entry.get("path", []), str(Path.cwd())]
    token = {"name": entry["name"], "origin": entry["origin"], "kwargs": kwargs, "path": paths}
    if entry.get("metadata"):  # ml-peg's training data, level of theory...: tables, manifest
        token["metadata"] = entry["metadata"]
    return spec_from_token(json.dumps({**token, **fields}, sort_keys=True))


@lru_cache(maxsize=64)
def spec_from_token(token: str) -> ModelSpec:
    """The spec a token (:func:`external_spec`) stands for; imports the factory unless it runs
    in another interpreter (``python``)."""
    data = json.loads(token)
    target, python = data["import"], data.get("python")
    identity: dict[str, Any] = {"import": target, "kwargs": data["kwargs"], "source": "unknown"}
    # default "native" (the factory's own precision; an entry's dtype is a factory kwarg), so
    # readers know a default run's settings digest without importing the factory
    dtypes: tuple[str, ...] = (NATIVE,)
    takes = None  # the factory's device/dtype/checkpoint parameters (None: not imported here)
    if python is None:
        factory = object_factory(data["object"]) if data.get("object") else None
        factory = factory or import_target(target, data["path"])
        identity["source"] = provenance(factory)
        takes = [p for p in ("device", "dtype", "checkpoint") if accepts(factory, p)]
        if accepts(factory, "dtype"):
            dtypes = (NATIVE, "float32", "float64")
    if data.get("dtype"):
        identity["dtype"] = data["dtype"]
    return ModelSpec(
        key=data["name"],
        family=FAMILY,
        package=target.split(":")[0].split(".")[0],
        env="main",
        source=data["origin"],
        description=f"{target} ({data['origin']})",
        dtypes=dtypes,
        second_order_dtype=NATIVE,
        checkpoint=data.get("checkpoint"),
        options={**data, "identity": identity, "takes": takes},
        ref=token,
    )
