"""What ``bench models`` shows: whether each model runs here, its environment, where its
weights are (packaged, cached, will download, missing)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from bench.models.checkpoints import checkpoint_dir
from bench.models.entries import training_text
from bench.models.external import models_file_entries, plugin_entries
from bench.models.registry import list_models, unavailable_reason
from bench.models.spec import ModelSpec
from bench.models.weights import weights_status


def checkpoint_status(spec: ModelSpec) -> str:
    """Where the weights are (packaged / cached / local, with the path), or that they will
    download, or where to put them when they are missing."""
    status = weights_status(spec)
    if status.state.startswith("missing"):
        where = checkpoint_dir() or "$BENCH_CHECKPOINTS"
        return (
            f"{status}: put {spec.checkpoint} in {where} or pass --checkpoint PATH "
            f"(from {spec.url or spec.source})"
        )
    return str(status)


def cannot_run_reason(spec: ModelSpec) -> str | None:
    """Why ``spec`` cannot run here (a missing package or environment, weights that are
    neither here nor downloadable), or None when it can."""
    reason = unavailable_reason(spec)
    if reason is None and weights_status(spec).state.startswith("missing"):
        reason = checkpoint_status(spec)
    return reason


def env_label(spec: ModelSpec) -> str:
    """``main``, or the family environment and its state (ready / not created)."""
    if spec.env == "main":
        return "main"
    from bench.models.envs import env_python, env_ready

    if importlib.util.find_spec(spec.package) is not None:
        return f"{spec.env} (importable here)"
    if env_python(spec.env) is None:
        return f"{spec.env} (not created)"
    return f"{spec.env} ({'ready' if env_ready(spec.env, spec.import_probe) else 'incomplete'})"


def model_rows() -> list[dict[str, str]]:
    """One row per model for ``bench models``: key, aliases, family, env, whether it runs
    here, its weights (packaged / cached (path) / local / will download / missing), and why
    it cannot run."""
    rows = []
    external = external_rows()
    shadowed = {row["key"].lower() for row in external}
    for spec in list_models():
        if {n.lower() for n in (spec.key, *spec.aliases)} & shadowed:
            continue  # a models-file entry of that name takes its place (its row says so)
        reason = unavailable_reason(spec)
        weights = checkpoint_status(spec) if reason is None else ""
        missing = weights.startswith("missing")
        rows.append(
            {
                "key": spec.key,
                "source": "catalogue",
                "aliases": ", ".join(spec.aliases),
                "family": spec.family,
                "env": env_label(spec),
                "table2": spec.table2 or "",
                "runs here": "no" if reason or missing else "yes",
                "weights / why not": reason or weights,
            }
        )
    return rows + external


def external_rows() -> list[dict[str, str]]:
    """Rows of the models-file entries and plug-ins, importing none of them: the module is
    looked up (with the entry's folder and the current one on the path)."""
    rows = []
    entries = {**plugin_entries(), **models_file_entries()}
    for name, entry in entries.items():
        module = entry["import"].split(":")[0]
        catalogue = {n.lower(): s.key for s in list_models() for n in (s.key, *s.aliases)}
        origin = entry["origin"]
        if name.lower() in catalogue:
            origin += f" (in place of the catalogue's {catalogue[name.lower()]})"
        python = entry.get("python")
        found = python or findable(module, [*entry.get("path", []), str(Path.cwd())])
        checkpoint = entry.get("checkpoint")
        rows.append(
            {
                "key": name,
                "source": origin,
                "aliases": "",
                "family": f"import {entry['import']}",
                "env": python or "main",
                "table2": "",
                "training": training_text(entry.get("metadata")),
                "runs here": "yes" if found else "no",
                "weights / why not": (
                    f"{module} is not importable here"
                    if not found
                    else f"local ({checkpoint})"
                    if checkpoint
                    else "the factory's own"
                ),
            }
        )
    return rows


def findable(module: str, paths: list[str]) -> bool:
    """Whether ``module`` can be imported with ``paths`` first on the path (not importing it)."""
    for folder in paths:
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
