"""``bench speed forward``: model forward time (energy + forces + stress) vs number of atoms.

Cells are rocksalt NaCl supercells (8 to ~1,000 atoms; fcc Cu for EMT), slightly rattled so
no symmetry shortcut applies. Each size: one warm-up call, then the median of ``repeats``
timed calls.
Models that run in their own environment are timed there (the same code, its interpreter).
Writes ``<out>/forward.csv`` (appending rows) and ``<out>/forward.png``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase.build import bulk

from bench.run.manifest import machine, package_versions

DEFAULT_SIZES = (8, 64, 216, 512, 1000)


def speed_cell(n_atoms: int, family: str = "", seed: int = 0) -> Any:
    """Rattled cubic supercell with about ``n_atoms`` atoms: rocksalt NaCl (8 per cubic
    cell), or fcc Cu for EMT (which has no Na/Cl parameters)."""
    unit = (
        bulk("Cu", "fcc", a=3.61, cubic=True)
        if family == "emt"
        else bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    )
    reps = max(1, round((n_atoms / len(unit)) ** (1 / 3)))
    atoms = unit.repeat(reps)
    atoms.rattle(0.02, seed=seed)
    return atoms


def time_forward(
    model: str,
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    repeats: int = 3,
    checkpoint: str | None = None,
    dtype: str | None = None,
    threads: int | None = None,
) -> list[dict[str, Any]]:
    """Rows of (model, dtype, n_atoms, median seconds per call, atoms per second), in-process."""
    from bench.models import load_model, resolve
    from bench.run.threads import set_threads

    if threads:
        set_threads(threads)
    loaded = load_model(model, checkpoint=checkpoint, dtype=dtype, second_order=dtype is None)
    rows = []
    for size in sizes:
        atoms = speed_cell(size, resolve(model).family)
        atoms.calc = loaded.calculator
        times = []
        for i in range(repeats + 1):
            atoms.positions[0, 0] += 1e-4  # force a fresh calculation
            start = time.perf_counter()
            atoms.get_potential_energy()
            atoms.get_forces()
            atoms.get_stress()
            if i:  # the first call is the warm-up
                times.append(time.perf_counter() - start)
        median = statistics.median(times)
        rows.append(
            {
                "model": loaded.key if not checkpoint else f"{loaded.key} (checkpoint)",
                "dtype": loaded.dtype,
                "n_atoms": len(atoms),
                "seconds_per_call": median,
                "atoms_per_second": len(atoms) / median,
                "repeats": repeats,
                "threads": threads or "default",
            }
        )
    return rows


def call_in_model_env(
    model: str, function: str, fresh: bool = False, **kwargs: Any
) -> list[dict[str, Any]]:
    """``function(model=model, **kwargs)`` ("module:name", returning JSON-able rows) here, or
    in the model family's own environment when its package is not importable here;
    ``fresh``: always in a new interpreter (so its peak memory is the call's own)."""
    import importlib
    import sys

    from bench.models import resolve
    from bench.run.envworker import worker_python

    python = worker_python(resolve(model))
    module, name = function.split(":")
    if python is None and not fresh:
        return getattr(importlib.import_module(module), name)(model=model, **kwargs)
    python = python or sys.executable
    script = (
        f"import json, sys; from {module} import {name}; "
        f"print('BENCH-JSON ' + json.dumps({name}(**json.loads(sys.argv[1]))))"
    )
    args = json.dumps({"model": model, **kwargs})
    done = subprocess.run([python, "-c", script, args], capture_output=True, text=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH-JSON ")), None)
    if line is None:
        raise RuntimeError(f"{name} for {model} in {python} failed:\n{done.stderr[-2000:]}")
    return json.loads(line[len("BENCH-JSON ") :])


def append_rows(rows: list[dict[str, Any]], csv_path: Path, command: str) -> pd.DataFrame:
    """Append rows, stamped with machine, torch version, command and time, to ``csv_path``;
    returns the whole file as a frame."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    info = machine()
    versions = package_versions()
    frame = pd.DataFrame(rows).assign(
        cpu=info["cpu"],
        cpu_count=info["cpu_count"],
        torch=versions.get("torch", ""),
        command=command,
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    if csv_path.exists():
        frame = pd.concat([pd.read_csv(csv_path), frame], ignore_index=True)
    frame.to_csv(csv_path, index=False)
    return frame


def write_forward(rows: list[dict[str, Any]], out: Path, command: str) -> list[Path]:
    """Append rows (with machine, versions, command) to forward.csv and redraw forward.png."""
    frame = append_rows(rows, out / "forward.csv", command)
    return [out / "forward.csv", plot_forward(frame, out / "forward.png")]


def plot_forward(frame: pd.DataFrame, png: Path) -> Path:
    """Log-log plot of seconds per call vs atoms, one line per (model, dtype), latest rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = machine()
    fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
    latest = frame.drop_duplicates(["model", "dtype", "n_atoms"], keep="last")
    for (model, dtype), group in latest.groupby(["model", "dtype"]):
        group = group.sort_values("n_atoms")
        ax.loglog(group["n_atoms"], group["seconds_per_call"], "o-", label=f"{model} {dtype}")
    ax.set_xlabel("atoms")
    ax.set_ylabel("s per energy+forces+stress call")
    ax.set_title(f"{info['cpu']} ({info['cpu_count']} cores)", fontsize=8)
    ax.legend(fontsize=6)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png


def summary(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of timing rows."""
    frame = pd.DataFrame(rows)
    frame["ms_per_call"] = np.round(frame["seconds_per_call"] * 1e3, 1)
    return frame[["model", "dtype", "n_atoms", "ms_per_call", "atoms_per_second"]].to_string(
        index=False
    )
