"""Adapter of models outside the catalogue (:mod:`bench.models.external`): call the factory an
import path names, with its kwargs and, where it takes them, ``device``, ``dtype`` and
``checkpoint``; wrap the ASE calculator it returns (or take its :class:`LoadedModel`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import ConfigurationError, ModelUnavailableError
from bench.models.external import NATIVE, accepts, import_target, object_factory
from bench.models.loaded import LoadedModel
from bench.models.spec import ModelSpec
from bench.terminal import a_or_an


def packaged_checkpoint(spec: ModelSpec) -> Path | None:
    """The entry's ``checkpoint`` file, when it names one that exists."""
    path = Path(spec.checkpoint).expanduser() if spec.checkpoint else None
    return path if path is not None and path.is_file() else None


def missing_checkpoint(spec: ModelSpec) -> str | None:
    """One line when the entry's ``checkpoint`` names no file (None: it does, or it names
    none): the path as resolved (a models file's relative path: beside that file) and the
    entry that named it, as ``--checkpoint`` says ``checkpoint file not found: PATH``."""
    if not spec.checkpoint or packaged_checkpoint(spec) is not None:
        return None
    path = Path(spec.checkpoint).expanduser().resolve()
    beside = "" if spec.source.startswith("plug-in") else ", relative paths read beside that file"
    named = f"the checkpoint: of {spec.key} in {spec.source}{beside}"
    return f"checkpoint file not found: {path} ({named})"


def factory_kwargs(
    spec: ModelSpec, factory: Any, device: str, dtype: str, checkpoint: Path | None
) -> dict[str, Any]:
    """The entry's kwargs plus device, dtype and checkpoint where the factory takes them;
    ConfigurationError for a checkpoint it cannot take."""
    kwargs = dict(spec.options.get("kwargs") or {})
    target = spec.options["import"]
    if accepts(factory, "device"):
        kwargs.setdefault("device", spec.options.get("device") or device)
    if accepts(factory, "dtype") and (dtype != NATIVE or spec.options.get("dtype")):
        kwargs.setdefault("dtype", spec.options.get("dtype") if dtype == NATIVE else dtype)
    path = checkpoint or packaged_checkpoint(spec)
    if path is not None:
        if not accepts(factory, "checkpoint"):
            raise ConfigurationError(f"{target} takes no checkpoint argument (--checkpoint)")
        kwargs.setdefault("checkpoint", str(path))
    return kwargs


def calculator_device(calculator: Any, depth: int = 3) -> str:
    """Where a calculator that chose its own device runs: the device of the first torch
    parameters among its attributes (``cpu`` for one without: numpy runs on the CPU)."""
    try:
        import torch
    except ImportError:
        return "cpu"
    if isinstance(calculator, torch.nn.Module):
        param = next(calculator.parameters(), None)
        return str(param.device) if param is not None else "cpu"
    if depth == 0:
        return "cpu"
    for value in getattr(calculator, "__dict__", {}).values():
        if isinstance(value, torch.nn.Module) or hasattr(value, "__dict__"):
            found = calculator_device(value, depth - 1)
            if found != "cpu":
                return found
    return "cpu"


def load(spec: ModelSpec, *, device: str, dtype: str, checkpoint: Path | None) -> LoadedModel:
    target = spec.options["import"]
    if spec.options.get("object"):
        factory = object_factory(spec.options["object"])
    else:
        factory = import_target(target, spec.options.get("path", []))
    if not callable(factory):
        raise ModelUnavailableError(f"{target} is {a_or_an(type(factory).__name__)}, not callable")
    missing = None if checkpoint is not None else missing_checkpoint(spec)
    if missing:  # never the factory's default weights in place of the entry's file
        raise ModelUnavailableError(f"{spec.key}: {missing}")
    kwargs = factory_kwargs(spec, factory, device, dtype, checkpoint)
    try:
        made = factory(**kwargs)
    except Exception as err:
        raise ModelUnavailableError(
            f"{target}({', '.join(kwargs)}) raised {type(err).__name__}: {str(err)[:200]}"
        ) from err
    if isinstance(made, LoadedModel):
        made.key = spec.key
        return made
    if isinstance(made, type):  # the class itself: its methods look like a calculator's
        raise ModelUnavailableError(
            f"{target} returned the class {made.__name__}, not a calculator: return "
            f"{made.__name__}(...)"
        )
    if not callable(getattr(made, "get_potential_energy", None)):
        raise ModelUnavailableError(
            f"{target} returned {a_or_an(type(made).__name__)}, not an ASE calculator"
        )
    path = checkpoint or packaged_checkpoint(spec)
    return LoadedModel(
        key=spec.key,
        calculator=made,
        device=device if "device" in kwargs else calculator_device(made),
        dtype=dtype,
        checkpoint=str(path) if path else None,
    )
