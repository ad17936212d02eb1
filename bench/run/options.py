"""The checks of a run's logistics before anything runs: one line each, naming the option.

:class:`bench.run.config.RunConfig` calls :func:`check_options` when it is made, so ``bench
run`` and the Python API refuse the same things (a number out of range, an empty list, a
folder that is not one, options that only make sense together) with a ConfigurationError
(exit 2 on the command line). Settings dataclasses check their own values the same way.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from bench.errors import ConfigurationError
from bench.limits import MAX_LIMIT_S

#: a dask scheduler address: ``[protocol://]host[:port]`` (tcp, tls, ws, wss, ucx, inproc)
SCHEDULER = re.compile(
    r"^((tcp|tls|ws|wss|ucx|inproc)://)?(\[[0-9A-Fa-f:.]+\]|[\w.-]+)(:\d{1,5})?$"
)


def _number(
    value: Any, option: str, low: float, low_ok: bool = False, high: float = math.inf
) -> None:
    """A finite number above ``low`` (or equal, with ``low_ok``), at most ``high``."""
    text = "at least" if low_ok else "above"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{option} must be a number, got {value!r}")
    if not math.isfinite(value) or value < low or (value == low and not low_ok):
        raise ConfigurationError(f"{option} must be a finite number {text} {low:g}, got {value}")
    if value > high:
        raise ConfigurationError(f"{option} must be at most {high:g}, got {value:g}")


def _writable_folder(path: str, option: str) -> None:
    """``path`` is a folder this process can write in, or can be made in one."""
    where = Path(path)
    if where.exists() and not where.is_dir():
        raise ConfigurationError(f"{option} {path} is a file, not a folder")
    existing = next((p for p in (where, *where.parents) if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigurationError(f"{option} {path}: {existing} is not writable")


def check_options(config: Any) -> None:
    """ConfigurationError naming the first option of ``config`` (a RunConfig) that is wrong."""
    if config.materials is not None and (
        not config.materials or any(not str(m).strip() for m in config.materials)
    ):
        raise ConfigurationError("--materials names no material (an empty id in the list)")
    if config.limit is not None and (isinstance(config.limit, bool) or config.limit < 1):
        raise ConfigurationError(f"--limit must be at least 1, got {config.limit}")
    if config.workers < 1:
        raise ConfigurationError(f"--workers must be at least 1, got {config.workers}")
    gpus = config.gpus
    if gpus is not None and (not gpus or any(type(g) is not int or g < 0 for g in gpus)):
        raise ConfigurationError(f"--gpus takes GPU indices such as 0,1, got {gpus!r}")
    if config.gpus is not None and config.scheduler is not None:
        raise ConfigurationError(
            "--gpus is for this machine's workers; a Dask cluster's workers get their GPU from "
            "what starts them (Slurm: --gres=gpu:1, and --resources GPU=1)"
        )
    if config.threads is not None and config.threads < 1:
        raise ConfigurationError(f"--threads must be at least 1, got {config.threads}")
    if config.material_timeout_s is not None:
        _number(
            config.material_timeout_s,
            "--material-timeout (seconds; 0: no limit)",
            0,
            high=MAX_LIMIT_S,
        )
    if config.push_every_s is not None:
        _number(config.push_every_s, "--push-every", 0, low_ok=True)
    if config.dtype is not None and not str(config.dtype).strip():
        raise ConfigurationError("--dtype is empty (leave it out for the model's default)")
    if config.name is not None:
        check_name(config.name)
    if config.engine not in (None, "ase") and (
        config.workers > 1 or config.isolate or config.executor != "local"
    ):
        raise ConfigurationError(
            f"--engine {config.engine} batches materials in one process: use --workers 1, "
            "without --isolate or --executor dask"
        )
    if config.executor not in ("local", "dask"):
        raise ConfigurationError(f"unknown executor {config.executor!r}; choose local or dask")
    if config.scheduler is not None and config.executor != "dask":
        raise ConfigurationError("--scheduler needs --executor dask (it names a dask scheduler)")
    if config.scheduler is not None and not SCHEDULER.match(str(config.scheduler)):
        raise ConfigurationError(
            f"--scheduler {config.scheduler!r} is not a dask scheduler address "
            "(tcp://HOST:PORT, tls://HOST:PORT or HOST[:PORT])"
        )
    if config.data_dir is not None and not Path(config.data_dir).is_dir():
        raise ConfigurationError(f"--data-dir {config.data_dir!r} is not a folder")
    if config.records_dir is None:
        if config.push_every_s is not None:
            raise ConfigurationError("--push-every needs --records DIR (where to push)")
        if config.push_artifacts:
            raise ConfigurationError("--push-artifacts needs --records DIR (where to push)")
        return
    _writable_folder(config.records_dir, "--records")


def check_name(name: str) -> None:
    """``--name``: letters, digits and ``._+-`` (a file name in records folders, no ``@``:
    it separates a catalogue key from its label), not a catalogue key or alias."""
    from bench.models.registry import SPECS

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,79}", name):
        raise ConfigurationError(
            f"--name {name!r}: letters, digits and . _ + - only (at most 80, no @ or spaces)"
        )
    taken = {n.lower(): s.key for s in SPECS.values() for n in (s.key, *s.aliases)}
    if name.lower() in taken:
        raise ConfigurationError(
            f"--name {name}: the catalogue's {taken[name.lower()]} already has that name; "
            "choose another"
        )
