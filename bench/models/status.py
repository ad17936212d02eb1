"""What ``bench models`` shows: whether each model runs here, its environment, where its
weights are (packaged, cached, will download, missing)."""

from __future__ import annotations

import importlib.util

from bench.errors import ConfigurationError
from bench.models.checkpoints import checkpoint_dir
from bench.models.entries import training_text
from bench.models.external import external_spec, models_file_entries, plugin_entries
from bench.models.imported import missing_checkpoint
from bench.models.registry import list_models, local_checkpoint, unavailable_reason
from bench.models.spec import ModelSpec
from bench.models.weights import missing_message, weights_status


def checkpoint_status(spec: ModelSpec) -> str:
    """Where the weights are (packaged / cached / local, with the path), or that they will
    download, or where to put them when they are missing."""
    status = weights_status(spec)
    if status.state.startswith("missing"):
        if not spec.url:  # a file of its own, or weights its package should have shipped
            return f"{status}: {missing_message(spec).removeprefix(f'{spec.key}: ')}"
        where = checkpoint_dir() or "$BENCH_CHECKPOINTS"
        return (
            f"{status}: put {spec.checkpoint} in {where} or pass --checkpoint PATH "
            f"(from {spec.url})"
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
        env = env_label(spec)
        rows.append(
            {
                "key": spec.key,
                "source": "catalogue",
                "aliases": ", ".join(spec.aliases),
                "family": spec.family,
                "env": env,
                "table2": spec.table2 or "",
                "runs here": "no" if reason or missing else "yes",
                "weights": _blocked_word(spec, env) if reason else weights_status(spec).state,
                "weights / why not": reason or weights,
            }
        )
    return rows + external


def _blocked_word(spec: ModelSpec, env: str) -> str:
    """The weights column of a catalogue model that cannot run here (its package or
    environment; the details line says how to mend it)."""
    if spec.env != "main":
        return "env not created" if "(not created)" in env else "env incomplete"
    return "not installed"


def external_rows() -> list[dict[str, str]]:
    """Rows of the models-file entries and plug-ins, each resolved as ``bench run`` resolves
    it (:func:`bench.models.external.external_spec`): its factory imported, unless it runs in
    another interpreter (``python``), so a module that does not import (a SyntaxError, an
    attribute it lacks) is ``no`` with the line ``bench run`` would stop with. Catalogue rows
    import nothing (:func:`model_rows`)."""
    rows = []
    entries = {**plugin_entries(), **models_file_entries()}
    catalogue = {n.lower(): s.key for s in list_models() for n in (s.key, *s.aliases)}
    for name, entry in entries.items():
        origin = entry["origin"]
        if name.lower() in catalogue:
            origin += f" (in place of the catalogue's {catalogue[name.lower()]})"
        target, python, why = entry["import"], entry.get("python"), None
        try:
            spec = external_spec(name)
        except ConfigurationError as err:  # ModelUnavailableError: cannot import ...
            why, word = str(err), "not importable"
        else:
            assert spec is not None  # entries lists it
            target, python = spec.options["import"], spec.options.get("python")
            why, word = missing_checkpoint(spec), "missing"
        checkpoint = None if why else local_checkpoint(spec)
        if not why:
            word = "local" if checkpoint else "the factory's own"
        rows.append(
            {
                "key": name,
                "source": origin,
                "aliases": "",
                "family": f"import {target}",
                "env": python or "main",
                "table2": "",
                "training": training_text(entry.get("metadata")),
                "runs here": "no" if why else "yes",
                "weights": word,
                "weights / why not": why
                or (f"local ({checkpoint})" if checkpoint else "the factory's own"),
            }
        )
    return rows
