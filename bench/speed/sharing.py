"""``bench speed sharing``: several runs sharing one machine, with and without ``--threads``.

``runs`` one-worker ``bench run`` processes start together, each on the same materials into a
scratch store of its own, first with the default threads (all cores per run: the runs
oversubscribe the machine), then with ``--threads cores / runs``. Reported: the wall time until
the last run ends and the machine's materials per hour (runs x materials / wall).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: ``bench run`` as a module (the console script may not be on PATH in a bare venv)
BENCH = [sys.executable, "-c", "import sys; from bench.cli import main; sys.exit(main())"]


def _run_together(argv: list[str], runs: int, threads: int, scratch: Path) -> float:
    """Start ``runs`` copies of ``bench run argv --threads threads``; seconds until all end."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*BENCH, *argv, "--threads", str(threads), "--out", str(scratch / f"{threads}-{i}")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(runs)
    ]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - start
    if any(codes):
        raise RuntimeError(f"a sharing run failed (exit codes {codes}): bench {' '.join(argv)}")
    return wall


def time_sharing(
    model: str,
    task: str,
    subset: str,
    runs: int = 2,
    limit: int | None = None,
    materials: tuple[str, ...] | None = None,
    data_dir: str | None = None,
) -> list[dict[str, Any]]:
    """One row per thread count (all cores per run, then cores / runs): wall [s] until the
    last of ``runs`` concurrent runs ends, and the machine's materials per hour."""
    cores = os.cpu_count() or 1
    argv = ["run", "--model", model, "--task", task, "--subset", subset, "--quiet"]
    argv += ["--workers", "1", "--no-keep-force-constants"]
    argv += ["--limit", str(limit)] if limit else []
    argv += ["--materials", ",".join(materials)] if materials else []
    argv += ["--data-dir", data_dir] if data_dir else []
    from bench.datasets import resolve_subset

    n = len(materials) if materials else len(resolve_subset(subset, data_dir)[1][:limit])
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for threads in dict.fromkeys((cores, max(1, cores // runs))):
            wall = _run_together(argv, runs, threads, Path(scratch))
            rows.append(
                {
                    "model": model,
                    "task": task,
                    "subset": subset,
                    "n_materials": n,
                    "runs": runs,
                    "threads_per_run": threads,
                    "wall_s": wall,
                    "materials_per_h": runs * n * 3600.0 / wall,
                }
            )
    return rows
