"""Per-family Python environments for model families whose pins clash with the main one.

mace-torch 0.3.16 pins e3nn==0.4.4 (SevenNet needs 0.6.0) and fairchem-core its own torch, so
those families get a venv of their own with ``bench`` installed editable from this checkout
plus the family's extra. The runner starts their workers with that env's interpreter
(:mod:`bench.run.remote`); records come back as JSON into the same store.

What each installs (its torch pin first, so no package drags in a newer CUDA build; steps
after ``bench[<family>]``) is the family's ``env`` table in ``catalogue.toml``. Environments
live in ``$BENCH_ENVS/<name>``, else ``<checkout>/.envs/<name>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from bench.errors import ConfigurationError
from bench.models.families import FAMILIES, own_env_families
from bench.terminal import echo

ENV_VAR = "BENCH_ENVS"
CHECKOUT = Path(__file__).resolve().parents[2]


def envs_root() -> Path:
    """Where family environments live (``$BENCH_ENVS`` or ``<checkout>/.envs``)."""
    value = os.environ.get(ENV_VAR)
    return Path(value).expanduser() if value else CHECKOUT / ".envs"


def env_python(name: str) -> Path | None:
    """The interpreter of environment ``name`` if it has been created, else None."""
    if name == "main":
        return Path(sys.executable)
    python = envs_root() / name / "bin" / "python"
    return python if python.is_file() else None


@lru_cache(maxsize=16)
def _has_module(python: str, module: str) -> bool:
    probe = f"import {module}"  # an import, not find_spec: a package can lack its own deps
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def env_ready(name: str, module: str) -> bool:
    """True when environment ``name`` exists and can import ``module`` and ``bench``."""
    python = env_python(name)
    return python is not None and all(_has_module(str(python), m) for m in (module, "bench"))


def env_state(name: str, module: str) -> str:
    """One line for ``bench models`` / ``bench env list``."""
    if name == "main":
        return "main"
    python = env_python(name)
    if python is None:
        return f"{name}: not created (bench env create {name})"
    if not env_ready(name, module):
        return f"{name}: {python.parent.parent} lacks {module} (bench env create {name})"
    return f"{name}: ready ({python.parent.parent})"


def create_env(name: str, extra: str, python: str = sys.executable) -> Path:
    """Create (or update) environment ``name``: venv + torch pin + ``-e <checkout>[extra]``.

    Returns its interpreter. Raises ConfigurationError with pip's last lines when it fails.
    """
    if name not in own_env_families():
        known = ", ".join(own_env_families())
        raise ConfigurationError(f"unknown environment {name!r}; known: {known}")
    family = FAMILIES[name]
    root = envs_root() / name
    if env_python(name) is None:
        call([python, "-m", "venv", str(root)], f"creating the venv {root}")
    env_py = str(root / "bin" / "python")
    call([env_py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], "upgrading pip")
    if family.preinstall:
        what = f"installing {', '.join(family.preinstall)}"
        call([env_py, "-m", "pip", "install", "--quiet", *family.preinstall], what)
    call(
        [env_py, "-m", "pip", "install", "--quiet", "-e", f"{CHECKOUT}[{extra}]"],
        f"installing bench[{extra}]",
    )
    for step in family.postinstall:
        call([env_py, "-m", "pip", "install", "--quiet", *step.args], step.what, dict(step.env))
    _has_module.cache_clear()
    return Path(env_py)


def call(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    """Run ``command`` (printing ``what``); ConfigurationError with its last lines if it fails."""
    echo(f"bench env: {what}", flush=True)
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise ConfigurationError(f"{what} failed ({' '.join(command)}):\n{tail}")
