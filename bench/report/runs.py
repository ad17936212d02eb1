"""What each run cost: its wall time and worker time, from its records and manifest."""

from __future__ import annotations

import pandas as pd

COLUMNS = (
    "run_id",
    "model",
    "task",
    "dataset",
    "started_at",
    "last_record_at",
    "records",
    "ok",
    "failed",
    "wall_h",
    "worker_h",
)


def run_spans(records: pd.DataFrame, manifests: list[dict]) -> pd.DataFrame:
    """One row per run that has records: its start (manifest ``started_at``), its last record
    (``created_at``), the records it holds and their outcome, its wall time [h] from start to
    last record, and its worker time [h], the sum of its records' ``wall_s``.

    A run's in-flight materials when it stopped, and records a later run superseded (a retried
    failure), are not counted. Rows in start order; a run without a manifest starts at its first
    record's start (``created_at - wall_s``).
    """
    if records.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    started = {m["run_id"]: m.get("started_at") for m in manifests}
    rows = []
    for run_id, group in records.groupby("run_id"):
        ends = pd.to_datetime(group["created_at"], utc=True)
        wall_s = group["wall_s"].fillna(0.0)
        first = (ends - pd.to_timedelta(wall_s, unit="s")).min()
        start = pd.to_datetime(started.get(run_id) or first, utc=True)
        rows.append(
            {
                "run_id": run_id,
                "model": ",".join(sorted(group["model"].unique())),
                "task": ",".join(sorted(group["task"].unique())),
                "dataset": ",".join(sorted(group["dataset"].unique())),
                "started_at": start.isoformat(timespec="seconds"),
                "last_record_at": ends.max().isoformat(timespec="seconds"),
                "records": len(group),
                "ok": int((group["status"] == "ok").sum()),
                "failed": int((group["status"] != "ok").sum()),
                "wall_h": (ends.max() - start).total_seconds() / 3600,
                "worker_h": float(wall_s.sum()) / 3600,
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS)).sort_values("started_at", ignore_index=True)


def total_row(spans: pd.DataFrame) -> dict:
    """The runs' sums: records, outcomes, wall time [h] and worker time [h]."""
    return {
        "runs": len(spans),
        "records": int(spans["records"].sum()),
        "ok": int(spans["ok"].sum()),
        "failed": int(spans["failed"].sum()),
        "wall_h": float(spans["wall_h"].sum()),
        "worker_h": float(spans["worker_h"].sum()),
    }
