"""A model's own interpreter (a models-file ``python:``, a family environment), checked before
any store exists: it runs, imports bench (this version, with its dependencies) and the model's
module; else one line naming the interpreter, what it lacks and the command that fixes it.
:func:`create_own_env` makes such an environment (``bench env create NAME --python PATH
--packages ...``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.errors import ConfigurationError, ModelUnavailableError
from bench.models.envs import CHECKOUT, call, envs_root
from bench.models.spec import ModelSpec
from bench.run.answer import ask

#: seconds an interpreter may take to import bench and the model's module (torch: ~10 s)
CHECK_TIMEOUT_S = 180.0
#: what the interpreter runs: bench's worker side, then the model's module; one JSON line
_PROBE = """
import importlib, json, sys
sys.path[:0] = {path!r}
out = {{"python": sys.version.split()[0]}}
for what in ("bench", "bench.run.remote", "bench.run.config", {module!r}):
    try:
        importlib.import_module(what)
    except Exception as err:
        name = getattr(err, "name", None) or what
        out.update(failed=what, missing=name, error=f"{{type(err).__name__}}: {{err}}")
        break
    if what == "bench":
        import bench
        out["bench"] = getattr(bench, "__version__", "?")
print(json.dumps(out))
"""
_CHECKED: set[tuple[str, str]] = set()


def model_module(spec: ModelSpec) -> str:
    """The module whose import proves the model loads: an import path's module, else the
    family's (catalogue ``import``, else its package)."""
    return spec.import_probe.split(":")[0]


def check_python(python: str, spec: ModelSpec, timeout_s: float | None = None) -> None:
    """ModelUnavailableError (one line) unless ``python`` runs and imports bench of this
    version and the model's module within ``timeout_s`` seconds (at most
    :data:`CHECK_TIMEOUT_S`; None: that)."""
    module = model_module(spec)
    if (python, module) in _CHECKED:
        return
    where = Path(python).expanduser()
    make = "bench env create NAME --python python3 --packages PACKAGES-YOUR-MODEL-NEEDS"
    if not where.is_file() or not os.access(where, os.X_OK):
        raise ModelUnavailableError(
            f"{spec.key}: python {python} does not exist (or is not executable); make an "
            f"environment with bench in it: {make}, and give its bin/python"
        )
    code = _PROBE.format(path=list(spec.options.get("path") or []), module=module)
    limit = min(CHECK_TIMEOUT_S, timeout_s or CHECK_TIMEOUT_S)
    answer = ask([str(where), "-c", code], limit, f"{spec.key}: python {python}")
    if answer.value is None:
        raise ModelUnavailableError(
            f"{spec.key}: python {python} does not run ({answer.last_line()})"
        )
    found = answer.value
    _judge(python, spec, module, found)
    _CHECKED.add((python, module))


def _judge(python: str, spec: ModelSpec, module: str, found: dict) -> None:
    """The one line for what ``found`` (the probe's answer) says is missing."""
    install = f"{python} -m pip install -e {CHECKOUT}"
    failed = found.get("failed")
    if failed and failed.startswith("bench"):
        lacks = "bench" if found["missing"].startswith("bench") else found["missing"]
        raise ModelUnavailableError(
            f"{spec.key}: python {python} cannot import {failed} (no module {lacks}): the "
            f"model's environment needs bench and its dependencies: {install}"
        )
    ours = sys.modules["bench"].__version__  # (importing the package here: a cycle)
    if found.get("bench") != ours:
        raise ModelUnavailableError(
            f"{spec.key}: python {python} has bench {found.get('bench')}, this is {ours}: {install}"
        )
    if failed:
        fix = f"{python} -m pip install {found['missing'].split('.')[0]}"
        if found["missing"] == module:
            fix += f" (or put the folder of {module} beside the models file)"
        raise ModelUnavailableError(
            f"{spec.key}: python {python} cannot import {module} ({found['error'][:160]}): {fix}"
        )


def create_own_env(name: str, python: str, packages: list[str]) -> Path:
    """A venv ``<envs>/<name>`` made by ``python`` with bench (editable, from this checkout)
    and ``packages`` installed; its interpreter (what a models file's ``python:`` names)."""
    if not name or "/" in name or name.startswith("."):
        raise ConfigurationError(f"environment name {name!r}: a plain folder name, please")
    base = Path(python).expanduser()
    if not base.is_file():
        raise ConfigurationError(f"--python {python} does not exist")
    root = envs_root() / name
    if not (root / "bin" / "python").is_file():
        call([str(base), "-m", "venv", str(root)], f"creating the venv {root}")
    env_py = str(root / "bin" / "python")
    call([env_py, "-m", "pip", "install", "--quiet", "-e", str(CHECKOUT)], "installing bench")
    if packages:
        call(
            [env_py, "-m", "pip", "install", "--quiet", *packages],
            f"installing {' '.join(packages)}",
        )
    _CHECKED.clear()
    return Path(env_py)
