"""Engines: what relaxes and evaluates a task's structures.

``ase`` (the default): bench's own loop, one material at a time through the model's ASE
calculator, as the sources ran it. ``torch-sim``: torch-sim-atomistic 0.3.0 (the optional
extra ``bench[torch-sim]``) relaxes many materials in one batch and evaluates their displaced
supercells or strained cells in shared batches (:mod:`bench.engines.batched`); its FIRE
differs from ASE's in its arithmetic, so the engine is part of the settings digest and its
records never mix with ASE's.
"""

from __future__ import annotations

import importlib.util

from bench.errors import ConfigurationError, warn
from bench.settings import ENGINES

__all__ = ["ENGINES", "choose_engine"]

#: families this process has already said run with ase (a run prepares its settings twice)
_SAID: set[str] = set()


def choose_engine(engine: str | None, family: str, task: str) -> str:
    """The engine a run uses: ``engine`` (None: ``ase``), or ``ase`` with a one-line note
    when the model's family has no torch-sim adapter. ConfigurationError for an unknown
    engine, a task the engine cannot run, or torch-sim not installed."""
    from bench.tasks import TASKS

    if engine is None or engine == "ase":
        return "ase"
    if engine not in ENGINES:
        raise ConfigurationError(f"--engine {engine!r}: choose from {', '.join(ENGINES)}")
    if TASKS[task].stages is None:
        raise ConfigurationError(f"--engine {engine}: task {task} runs with the ase engine only")
    if importlib.util.find_spec("torch_sim") is None:
        raise ConfigurationError(
            "--engine torch-sim needs torch-sim-atomistic: pip install 'bench[torch-sim]'"
        )
    from bench.engines.tsmodel import ADAPTERS

    if family not in ADAPTERS:
        if family not in _SAID:
            warn(
                f"torch-sim does not support the {family} family here; running with the ase engine"
            )
            _SAID.add(family)
        return "ase"
    return engine
