"""The torch-sim engine against the ase engine on the same materials, read from records (no
model runs): per material the values of both and their difference, per property the MAE vs DFT
of each and the mean and largest difference between them, and the wall and CPU time of each
(CPU where the records note it: the torch-sim engine's ``timings_s.cpu``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.datasets import resolve_subset
from bench.errors import ConfigurationError
from bench.protocols import effective_settings
from bench.report.loading import load_records
from bench.settings import settings_digest
from bench.tasks import TASKS


def _side(where: Path, model: str, task: str, dataset: str, engine: str) -> pd.DataFrame:
    """The records of ``model`` on ``task``/``dataset`` with the default protocol run by
    ``engine`` (its settings digest), indexed by material."""
    records, _ = load_records([where])
    if records.empty:
        raise ConfigurationError(f"{where}: no records")
    digest = settings_digest(effective_settings(model, task, dataset, engine=engine))
    mine = records[
        (records["model"] == model)
        & (records["task"] == task)
        & (records["dataset"] == dataset)
        & (records["settings_digest"] == digest)
    ]
    return mine.set_index("material_id")


def _cpu(records: pd.DataFrame, ids: list[str]) -> float:
    """The CPU seconds the records note (``timings_s.cpu``), NaN where none does."""
    if "time.cpu" not in records:
        return float("nan")
    return float(records.loc[ids, "time.cpu"].sum(min_count=1))


def compare_engines(
    model: str, task: str, subset: str, ase: Path, torch_sim: Path
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """(per-material rows, one summary row per property) of the subset's materials that have
    a record of both engines; summary rows count each engine's ok records and failures."""
    dataset, ids = resolve_subset(subset)
    a = _side(ase, model, task, dataset, "ase").reindex(ids).dropna(subset=["status"])
    t = _side(torch_sim, model, task, dataset, "torch-sim").reindex(ids).dropna(subset=["status"])
    common = [i for i in ids if i in a.index and i in t.index]
    rows = pd.DataFrame(index=pd.Index(common, name="material_id"))
    rows["status_ase"] = a.loc[common, "status"]
    rows["status_torch_sim"] = t.loc[common, "status"]
    rows["wall_s_ase"] = a.loc[common, "wall_s"]
    rows["wall_s_torch_sim"] = t.loc[common, "wall_s"]
    both = (rows["status_ase"] == "ok") & (rows["status_torch_sim"] == "ok")
    summary = []
    for prop in TASKS[task].properties:
        col = f"model.{prop}"
        ref = t.loc[common, f"ref.{prop}"].astype(float)
        va, vt = a.loc[common, col].astype(float), t.loc[common, col].astype(float)
        rows[f"{prop}_ase"], rows[f"{prop}_torch_sim"] = va, vt
        rows[f"{prop}_diff"] = vt - va
        ok = both & np.isfinite(va) & np.isfinite(vt) & np.isfinite(ref)
        diff = (vt - va)[ok].abs()
        summary.append(
            {
                "model": model,
                "task": task,
                "subset": subset,
                "property": prop,
                "n_both_ok": int(ok.sum()),
                "mae_ase": float((va - ref)[ok].abs().mean()),
                "mae_torch_sim": float((vt - ref)[ok].abs().mean()),
                "mean_abs_diff": float(diff.mean()),
                "median_abs_diff": float(diff.median()),
                "max_abs_diff": float(diff.max()),
                "worst_material": str(diff.idxmax()) if len(diff) else "",
                "n_ok_ase": int((rows["status_ase"] == "ok").sum()),
                "n_ok_torch_sim": int((rows["status_torch_sim"] == "ok").sum()),
                "n_materials": len(common),
                "wall_s_ase": float(rows["wall_s_ase"].sum()),
                "wall_s_torch_sim": float(rows["wall_s_torch_sim"].sum()),
                # this process's CPU seconds (timings_s.cpu: the torch-sim engine's records)
                "cpu_s_ase": _cpu(a, common),
                "cpu_s_torch_sim": _cpu(t, common),
            }
        )
    return rows.reset_index(), summary


def write_comparison(
    models: list[str], task: str, subset: str, ase: Path, torch_sim: Path, out: Path
) -> tuple[list[dict[str, Any]], list[Path]]:
    """Each model's per-material rows to ``<out>/engines-<model>-<task>-<subset>.csv``
    (rewritten); returns the summary rows (for ``engines.csv``) and the files written."""
    from bench.names import safe_name

    out.mkdir(parents=True, exist_ok=True)
    rows, paths = [], []
    for model in models:
        per_material, summary = compare_engines(model, task, subset, ase, torch_sim)
        path = out / (safe_name(f"engines-{model}-{task}-{subset}") + ".csv")
        per_material.to_csv(path, index=False)
        rows += summary
        paths.append(path)
    return rows, paths
