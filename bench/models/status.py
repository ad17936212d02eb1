"""What ``bench models`` shows: whether each model runs here, its environment, where its
weights are (packaged, cached, will download, missing)."""

from __future__ import annotations

import importlib.util

from bench.models.checkpoints import checkpoint_dir
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
    for spec in list_models():
        reason = unavailable_reason(spec)
        weights = checkpoint_status(spec) if reason is None else ""
        missing = weights.startswith("missing")
        rows.append(
            {
                "key": spec.key,
                "aliases": ", ".join(spec.aliases),
                "family": spec.family,
                "env": env_label(spec),
                "table2": spec.table2 or "",
                "runs here": "no" if reason or missing else "yes",
                "weights / why not": reason or weights,
            }
        )
    return rows
