"""What ``bench models`` shows: whether each model runs here, its environment, where its
weights come from."""

from __future__ import annotations

import importlib.util

from bench.models.checkpoints import checkpoint_dir
from bench.models.registry import list_models, local_checkpoint, unavailable_reason
from bench.models.spec import ModelSpec


def checkpoint_status(spec: ModelSpec) -> str:
    """Where the weights come from: a local file, or the upstream download."""
    if spec.checkpoint is None:
        return "none needed"
    path = local_checkpoint(spec)
    if path is not None:
        return f"local: {path}"
    where = checkpoint_dir() or "$BENCH_CHECKPOINTS"
    return (
        f"not local: downloads from {spec.source} when online, or put {spec.checkpoint} "
        f"in {where} (or pass --checkpoint PATH)"
    )


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
    here, and why not or where its checkpoint comes from."""
    rows = []
    for spec in list_models():
        reason = unavailable_reason(spec)
        rows.append(
            {
                "key": spec.key,
                "aliases": ", ".join(spec.aliases),
                "family": spec.family,
                "env": env_label(spec),
                "table2": spec.table2 or "",
                "runs here": "yes" if reason is None else "no",
                "why not / checkpoint": reason or checkpoint_status(spec),
            }
        )
    return rows
