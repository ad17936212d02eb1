"""The Python API: ``bench.benchmark(model, name=..., task=...)`` runs a model of one's own (or
the catalogue's) exactly as ``bench run`` does — same store, records, resume, failures and
manifests — and returns one row per material."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import ConfigurationError
from bench.models.external import is_import_path, register, register_object
from bench.report.metrics import summary_table
from bench.run.runlog import append_log, stdout_kept
from bench.run.runner import RunConfig, run
from bench.run.store import Store
from bench.tasks import TASKS


def benchmark(
    model: str | Callable[..., Any] | Any,
    *,
    name: str | None = None,
    task: str,
    subset: str | None = None,
    materials: Iterable[str] | None = None,
    out: str | Path = "runs",
    workers: int = 1,
    **run_options: Any,
) -> pd.DataFrame:
    """Run ``model`` on ``task`` and return one row per material: ``material_id``,
    ``status``, the values (``model.<property>``, units in the names: GPa, THz, J/mol/K...),
    the reference (``ref.<property>``) and the error of a failure. ``frame.attrs["mae"]``:
    the MAE table, as ``bench run`` prints it (one row per settings digest: ``n``, per
    property its MAE and 95 % bootstrap interval ``<prop>.lo``/``<prop>.hi``; a task without
    a reference: median, p95, max); ``frame.attrs["run"]``: the records' label, task, data
    set, settings digest, store and this run's counts. What the model packages print goes to
    ``<out>/bench-run.log``, as on the command line.

    ``model``: a calculator factory or class (called with its kwargs ``model_kwargs=`` and,
    where it takes them, ``device``/``dtype``/``checkpoint``), a catalogue key, an import path
    ``module:function``, or an ASE calculator instance (``workers=1`` only: an instance
    cannot go to other processes). ``name``: the records' label (default: the import path;
    ignored for catalogue keys). ``run_options``: ``model_kwargs`` and the other fields of
    :class:`bench.run.config.RunConfig` (:func:`accepted_options`: ``checkpoint``, ``device``,
    ``dtype``, ``limit``, ``executor``, ``retry_failures``, ``progress``...); another name is
    one ConfigurationError naming them.
    """
    if task not in TASKS:
        raise ConfigurationError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    _check_run_options(run_options)
    kwargs = dict(run_options.pop("model_kwargs", None) or {})
    key = _model_key(model, name, kwargs, workers, run_options.get("executor", "local"))
    config = RunConfig(
        model=key,
        task=task,
        subset=subset or TASKS[task].default_subset,
        materials=tuple(materials) if materials is not None else None,
        out_dir=str(out),
        workers=workers,
        **run_options,
    )
    with _quiet() as held:  # the package's prints go to the run log, as the CLI's do
        summary = run(config)
    append_log(config.out_dir, "".join(held))
    return _frame(config, summary)


#: the fields of RunConfig that benchmark's own arguments set (``out`` is ``out_dir``)
_OWN_ARGUMENTS = ("model", "name", "task", "subset", "materials", "out_dir", "workers")
#: the command line's spelling of an option -> benchmark's (a hint for an unknown option)
_CLI_SPELLING = {
    "quiet": "progress=False",
    "no_check": "check=False",
    "no_batch": "batch=False",
    "no_keep_force_constants": "keep_force_constants=False",
    "out_dir": "out=",
    "records": "records_dir=",
    "set": "overrides=(KEY=VALUE, ...)",
    "model_arg": "model_kwargs={...}",
    "material_timeout": "material_timeout_s=",
    "push_every": "push_every_s=",
}


def accepted_options() -> list[str]:
    """The keyword options :func:`benchmark` takes beyond its named arguments:
    ``model_kwargs`` and the fields of :class:`bench.run.config.RunConfig` it does not set."""
    fields = [f.name for f in dataclasses.fields(RunConfig) if f.name not in _OWN_ARGUMENTS]
    return ["model_kwargs", *fields]


def _check_run_options(given: dict[str, Any]) -> None:
    """One ConfigurationError naming an unknown option (and what it may mean), and the
    accepted ones: never RunConfig's TypeError."""
    accepted = accepted_options()
    unknown = [name for name in given if name not in accepted]
    if not unknown:
        return
    named = [
        p.name
        for p in inspect.signature(benchmark).parameters.values()
        if p.kind is not p.VAR_KEYWORD
    ]
    words = []
    for name in unknown:
        close = _CLI_SPELLING.get(name) or next(
            iter(difflib.get_close_matches(name, accepted, n=1, cutoff=0.6)), None
        )
        words.append(f"{name!r}" + (f" (did you mean {close}?)" if close else ""))
    raise ConfigurationError(
        f"bench.benchmark: unknown option{'s' if len(words) > 1 else ''} {', '.join(words)}; "
        f"it takes {', '.join(named)} and {', '.join(accepted)}"
    )


def _frame(config: RunConfig, summary: Any) -> pd.DataFrame:
    """The run's per-material frame, its MAE table and run facts in ``attrs``."""
    with Store(config.out_dir) as store:
        frame = store.records(
            model=summary.model,
            task=summary.task,
            dataset=summary.dataset,
            settings_digest=summary.settings_digest,
        )
    if config.materials is not None:
        frame = frame[frame["material_id"].isin(config.materials)]
    spec = TASKS[config.task]
    mae = summary_table(frame, spec.properties, spec.has_reference)
    keep = ["material_id", "status"]
    keep += [c for c in frame.columns if c.startswith(("model.", "ref."))]
    keep += ["error_type", "error_message"]
    out = frame[[c for c in keep if c in frame.columns]].reset_index(drop=True)
    out.attrs["mae"] = mae
    out.attrs["run"] = {
        "model": summary.model,
        "task": summary.task,
        "dataset": summary.dataset,
        "settings_digest": summary.settings_digest,
        "store": str(summary.store),
        "counts": dict(summary.counts),
    }
    return out


@contextmanager
def _quiet() -> Iterator[list[str]]:
    """What the model packages print (standard output) held back for the run log, and Python
    warnings off unless ``PYTHONWARNINGS`` asks for them, as on the command line."""
    with warnings.catch_warnings():
        if not os.environ.get("PYTHONWARNINGS"):
            warnings.simplefilter("ignore")
        with stdout_kept() as held:
            yield held


def _model_key(
    model: Any, name: str | None, kwargs: dict[str, Any], workers: int, executor: str
) -> str:
    """The string ``RunConfig.model`` takes for ``model`` (registering it under ``name``)."""
    if isinstance(model, str):
        if not is_import_path(model):
            if kwargs:
                raise ConfigurationError("model_kwargs are for factories, not catalogue keys")
            return model
        target = model
    elif not isinstance(model, type) and hasattr(model, "get_potential_energy"):  # an instance
        if workers != 1 or executor != "local":
            raise ConfigurationError(
                "a calculator instance cannot go to other processes: use workers=1, or give "
                "its factory or class (importable: module:function) for several workers"
            )
        target = f"{type(model).__module__}:{type(model).__qualname__}"
        return register_object(name or target, lambda: model, f"{target} instance")
    elif callable(model):
        target = f"{model.__module__}:{model.__qualname__}"
        if not _importable(model):
            if workers != 1 or executor != "local":
                raise ConfigurationError(
                    f"{target} is defined in a script or a function, which worker processes "
                    "cannot import: move it to a module, or use workers=1"
                )
            return register_object(name or target, model, target)
    else:
        raise ConfigurationError(
            f"model must be a factory, a class, a calculator, a catalogue key or an import "
            f"path, not {type(model).__name__}"
        )
    label = name or target
    entry = {"import": target, "kwargs": kwargs}
    register({label: entry}, _module_root(model) / "bench.benchmark", "Python API")
    return label


def _module_root(obj: Any) -> Path:
    """The folder ``obj``'s top-level module or package is imported from (workers put it
    on their path); the current folder when that is unknown."""
    module = inspect.getmodule(obj)
    source = getattr(module, "__file__", None)
    if module is None or not source:
        return Path.cwd()
    return Path(source).resolve().parents[module.__name__.count(".")]


def _importable(obj: Any) -> bool:
    """Whether worker processes can import ``obj`` by ``module:qualname``."""
    module = inspect.getmodule(obj)
    if module is None or module.__name__ == "__main__" or "<locals>" in obj.__qualname__:
        return False
    return sys.modules.get(module.__name__) is module
