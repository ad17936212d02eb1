"""Model registry: a string key resolved to an ASE calculator inside the worker process.

The catalogue (``catalogue.toml``) is data; each family has one adapter module
(``bench/models/<family>.py``) satisfying :class:`bench.models.protocol.Adapter`, whose
``load`` returns a :class:`LoadedModel` (the adapter contract of :mod:`bench.models.protocol`).

Adapters are imported lazily: listing models imports no ML framework.
"""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
from collections.abc import Sequence
from pathlib import Path

from bench.errors import (
    BenchBugError,
    ConfigurationError,
    ModelUnavailableError,
    UnknownModelError,
    warn,
)
from bench.models.checkpoints import checkpoint_dir, resolve_checkpoint
from bench.models.devices import resolve_device
from bench.models.external import (
    FAMILY,
    NATIVE,
    external_spec,
    find_entry,
    is_registered,
    spec_from_token,
)
from bench.models.loaded import LoadedModel
from bench.models.protocol import Adapter
from bench.models.spec import ModelSpec
from bench.models.suggest import suggestions
from bench.terminal import a_or_an, shown

CATALOGUE = Path(__file__).with_name("catalogue.toml")


def _load_catalogue() -> dict[str, ModelSpec]:
    with open(CATALOGUE, "rb") as handle:
        raw = tomllib.load(handle)
    specs = {}
    for key, entry in raw.items():
        if key == "families":  # the family tables (bench.models.families), not a model
            continue
        entry = dict(entry)
        entry["aliases"] = tuple(entry.get("aliases", ()))
        entry["dtypes"] = tuple(entry["dtypes"])
        specs[key] = ModelSpec(key=key, **entry)
    return specs


SPECS: dict[str, ModelSpec] = _load_catalogue()
_ALIASES: dict[str, str] = {
    name.lower(): spec.key for spec in SPECS.values() for name in (spec.key, *spec.aliases)
}


def list_models() -> list[ModelSpec]:
    """Every catalogue entry, in catalogue order."""
    return list(SPECS.values())


def resolve(name: str, model_args: Sequence[str] = ()) -> ModelSpec:
    """The model ``name`` stands for: a catalogue key or alias (case-insensitive), a models-file
    entry or plug-in, an import path ``module:attr``, or a worker's token (``spec.token``);
    ``model_args`` (``KEY=VALUE``) are the factory's kwargs. Close matches on a miss."""
    if name.lstrip().startswith("{"):
        return spec_from_token(name)
    key = _ALIASES.get(name.strip().lower())
    if key is not None and find_entry(name) is not None:  # a models-file entry wins, said
        return _shadowing(name, key, model_args)
    if key is not None and model_args:
        raise ConfigurationError(
            f"--model-arg is for import paths and models-file entries, not {SPECS[key].key}"
        )
    external = external_spec(name, model_args) if key is None else None
    if external is not None:
        return external
    if key is None:
        close = suggestions(name, _ALIASES)  # mypot.py here: mypot:make; else close names
        hint = f"; did you mean {', '.join(map(shown, close))}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}{hint} (`bench models` lists them; a factory of your own "
            "is given as module:function)"
        )
    return SPECS[key]


_NOTED: set[str] = set()


def _shadowing(name: str, key: str, model_args: Sequence[str]) -> ModelSpec:
    """The spec of the models-file entry (or plug-in) ``name``, which takes the place of the
    catalogue's ``key``; a note says so, once per process."""
    spec = external_spec(name, model_args)
    assert spec is not None  # find_entry found it
    if name.lower() not in _NOTED:
        _NOTED.add(name.lower())
        warn(
            f"{spec.key} is the entry of {spec.source} ({spec.options['import']}), not the "
            f"catalogue's {key}: its records are labelled {spec.key} too (rename the entry "
            "to keep both)"
        )
    return spec


def label_spec(label: str) -> ModelSpec:
    """The spec of a records' model label, importing nothing: the catalogue's for ``key``
    (or ``key@<sha256[:8]>``), else a stand-in for a model outside the catalogue, whose
    default dtype is ``native`` as :func:`bench.models.external.spec_from_token` gives it."""
    key = _ALIASES.get(label.split("@")[0].strip().lower())
    if key is not None and not is_registered(label):
        return SPECS[key]
    return ModelSpec(
        key=label,
        family=FAMILY,
        package=label.split(":")[0].split(".")[0],
        env="main",
        source="records (a model outside the catalogue)",
        description=label,
        dtypes=(NATIVE,),
    )


def _adapter(family: str) -> Adapter:
    """The adapter module of ``family``; BenchBugError when it breaks the contract."""
    module = importlib.import_module(f"bench.models.{family}")
    if not isinstance(module, Adapter):
        raise BenchBugError(f"bench/models/{family}.py lacks load() or packaged_checkpoint()")
    return module


def load_model(
    name: str,
    *,
    device: str | None = None,
    dtype: str | None = None,
    checkpoint: str | Path | None = None,
    second_order: bool = True,
) -> LoadedModel:
    """Load a model by key or alias, in this process.

    ``dtype`` None picks the family default (the most precise for second-order quantities).
    """
    spec = resolve(name)
    if importlib.util.find_spec(spec.package) is None:
        reason = unavailable_reason(spec) or f"runs in environment '{spec.env}', not this one"
        raise ModelUnavailableError(f"{spec.key}: {reason}")
    local = resolve_checkpoint(spec.checkpoint, checkpoint)
    adapter = _adapter(spec.family)
    try:
        loaded = adapter.load(
            spec,
            device=resolve_device(device),
            dtype=spec.dtype_for(dtype, second_order),
            checkpoint=local,
        )
    except ConfigurationError:  # ModelUnavailableError, or a factory's bad option
        raise
    except Exception as err:
        if local is not None:  # a file the user gave: corrupt, or another family's
            raise ModelUnavailableError(
                f"{spec.key}: cannot load {local} ({type(err).__name__}: "
                f"{str(err).strip()[:200]}); is it {a_or_an(spec.family)} checkpoint?"
            ) from err
        if spec.checkpoint is None or adapter.packaged_checkpoint(spec):
            raise
        # the weights were to come from upstream: say which file, from where, where to put it
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelUnavailableError(
            f"{spec.key}: weights {spec.checkpoint} are not local and the download from "
            f"{spec.source} failed ({type(err).__name__}: {first[:200]}); put the file in "
            f"{checkpoint_dir() or '$BENCH_CHECKPOINTS'} or pass --checkpoint PATH"
        ) from err
    if not isinstance(loaded, LoadedModel):
        raise BenchBugError(f"bench/models/{spec.family}.py load() returned {type(loaded)}")
    return loaded


def unavailable_reason(spec: ModelSpec) -> str | None:
    """Why ``spec`` cannot run in this environment (a missing package or environment), or None.

    A checkpoint that is not local is no blocker: the upstream package downloads it when online
    (see :func:`checkpoint_status`); offline, loading fails with that message.
    """
    if spec.options.get("python") or importlib.util.find_spec(spec.package) is not None:
        return None
    if spec.family == FAMILY:
        return f"{spec.options.get('import', spec.key)} is not importable here"
    if spec.env != "main":
        from bench.models.envs import env_python, env_ready

        if env_ready(spec.env, spec.import_probe):
            return None
        if env_python(spec.env) is not None:
            return (
                f"its environment '{spec.env}' exists but cannot import {spec.import_probe} "
                f"(bench env list; recreate with bench env create {spec.env})"
            )
        return (
            f"runs in its own environment '{spec.env}' (its pins clash with the main one), "
            f"not created yet: bench env create {spec.env}"
        )
    return f"package '{spec.package}' not installed: pip install -e '.[{spec.family}]'"


def local_checkpoint(spec: ModelSpec, explicit: str | Path | None = None) -> Path | None:
    """The checkpoint file this model would load here, if it is on disk."""
    path = resolve_checkpoint(spec.checkpoint, explicit)
    own = spec.family == FAMILY  # a path (its entry's): no package to import to find it
    if path is None and spec.checkpoint and (own or importlib.util.find_spec(spec.package)):
        path = _adapter(spec.family).packaged_checkpoint(spec)
    return path
