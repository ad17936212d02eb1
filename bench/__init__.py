"""bench: property benchmarks (phonons, elasticity) for machine-learning interatomic potentials."""

from typing import Any

__version__ = "0.1.0"


def benchmark(*args: Any, **kwargs: Any) -> Any:
    """Run a model on a task and return one row per material: see :func:`bench.api.benchmark`
    (imported on first use: ``import bench`` stays light)."""
    from bench.api import benchmark as run_benchmark

    return run_benchmark(*args, **kwargs)
