"""Named protocols: the settings each benchmark's source uses, and a run's effective settings.

A protocol is a frozen settings object whose fields copy one source's code line by line. Each
task module declares its own (``TASK.protocols`` in ``bench/tasks/<task>.py``, the source lines
cited beside each field); ``bench run --help`` lists them from the registry.

Each data set names its source's protocol (``datasets/*.json``, field ``protocol``); a run
uses it unless ``--protocol`` picks another. :func:`effective_settings` is the one place that
turns (model, task, data set, options) into the settings a run hashes, for both the runner and
the report, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bench.datasets import get_dataset
from bench.errors import ConfigurationError
from bench.models import ModelSpec, resolve
from bench.overrides import apply_overrides
from bench.tasks import TASKS
from bench.tasks.phonons import MATCALC_PHONONS

__all__ = ["MATCALC_PHONONS", "PROTOCOLS", "default_protocol", "effective_settings"]

#: task -> protocol name -> settings (each task module declares its own); the first
#: protocol of a task is its default
PROTOCOLS: dict[str, dict[str, Any]] = {name: task.protocols for name, task in TASKS.items()}


def protocol_names(task: str) -> list[str]:
    """Protocols known for ``task``."""
    return list(PROTOCOLS.get(task, {}))


def default_protocol(task: str, dataset: str) -> str:
    """The protocol of the data set's source (its definition's ``protocol``), else the task's
    first protocol."""
    named = get_dataset(dataset).protocol
    if named is not None and named in PROTOCOLS.get(task, {}):
        return named
    return protocol_names(task)[0]


def protocol_settings(task: str, protocol: str) -> Any:
    """Settings of a named protocol; ConfigurationError naming the known ones."""
    known = PROTOCOLS.get(task, {})
    if protocol not in known:
        raise ConfigurationError(
            f"--protocol {protocol!r}: unknown protocol for task {task}; choose from "
            f"{', '.join(known)}"
        )
    return known[protocol]


def effective_settings(
    model: str | ModelSpec,
    task: str,
    dataset: str,
    protocol: str | None = None,
    dtype: str | None = None,
    overrides: tuple[str, ...] = (),
    base: Any = None,
    engine: str | None = None,
) -> Any:
    """The settings a run of ``model`` on ``task``/``dataset`` hashes into its records.

    ``base`` (a settings object) or the named ``protocol`` (default: the data set's), then the
    ``key=value`` ``overrides``, then the precision: ``dtype`` (``--dtype``), else a ``dtype``
    set in the settings, else the family's most precise (second-order quantities need it);
    ``engine`` (``--engine``, :func:`bench.engines.choose_engine`'s choice) when not None.
    """
    if base is None:
        chosen = default_protocol(task, dataset) if protocol is None else protocol
        base = protocol_settings(task, chosen)  # "" too: a name it does not know
    if any(item.split("=", 1)[0].strip() == "protocol" for item in overrides):
        raise ConfigurationError("the protocol is chosen with --protocol NAME, not --set")
    try:
        settings = apply_overrides(base, overrides)
    except ValueError as err:
        raise ConfigurationError(str(err)) from err
    spec = model if isinstance(model, ModelSpec) else resolve(model)
    chosen = spec.dtype_for(dtype or settings.dtype, second_order=True)
    if engine is not None and engine != getattr(settings, "engine", "ase"):
        if not hasattr(settings, "engine"):
            raise ConfigurationError(f"--engine {engine}: task {task} runs with ase only")
        try:
            settings = dataclasses.replace(settings, engine=engine)
        except ValueError as err:
            raise ConfigurationError(str(err)) from err
    return dataclasses.replace(settings, dtype=chosen)
