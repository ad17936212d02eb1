"""``bench speed client-memory``: the client's memory over a real run (flat when records
stream to the store)."""

from __future__ import annotations

from typing import Any

from bench.models.timing import peak_rss_mb, proc_status_mb
from bench.run.runner import RunConfig, run


def rss_mb() -> float:
    """Current resident memory of this process (MB), from /proc (Linux) or peak RSS."""
    current = proc_status_mb("VmRSS")
    return peak_rss_mb() if current is None else current


def client_memory(
    model: str,
    task: str,
    subset: str,
    out_dir: str,
    workers: int = 2,
    every: int = 100,
    data_dir: str | None = None,
) -> list[dict[str, Any]]:
    """The client's resident memory (MB) every ``every`` records of a real ``bench run``
    (local pool, a fresh store in ``out_dir``): flat if records stream to the store."""
    rows = [{"records": 0, "client_rss_MB": rss_mb()}]
    count = 0

    def sample(record: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        if count % every == 0:
            rows.append({"records": count, "client_rss_MB": rss_mb()})

    config = RunConfig(
        model=model,
        task=task,
        subset=subset,
        workers=workers,
        data_dir=data_dir,
        out_dir=out_dir,
        progress=False,
    )
    run(config, on_record=sample)
    rows.append({"records": count, "client_rss_MB": rss_mb()})
    return [
        {"model": model, "task": task, "subset": subset, "workers": workers, **row} for row in rows
    ]
