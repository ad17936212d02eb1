"""Which records a table takes: those made with each model's default settings (its effective
dtype, the data set's protocol and supercell rule), on a subset's materials."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.datasets import resolve_subset
from bench.models.registry import label_spec
from bench.protocols import effective_settings
from bench.settings import settings_digest
from bench.tasks import reference_free_tasks


def expected_digest(model: str, task: str, dataset: str) -> str:
    """Digest of the default settings ``bench run`` uses for this model and data set (the
    data set's protocol; :func:`bench.protocols.effective_settings`, as the runner)."""
    return settings_digest(effective_settings(label_spec(model), task, dataset))


def subset_records(
    records: pd.DataFrame, key: str, task: str, dataset: str, ids: list[str]
) -> pd.DataFrame:
    """The records of model ``key`` on the materials ``ids``, made with its default settings."""
    if records.empty:
        return records
    return records[
        (records["model"] == key)
        & (records["task"] == task)
        & (records["dataset"] == dataset)
        & records["material_id"].isin(ids)
        & (records["settings_digest"] == expected_digest(label_spec(key).key, task, dataset))
    ]


def default_records(records: pd.DataFrame, task: str) -> pd.DataFrame:
    """The task's records made with each model's default settings for their data set."""
    if records.empty:
        return pd.DataFrame()
    part = records[records["task"] == task]
    if part.empty:
        return part
    pairs = part[["model", "dataset"]].drop_duplicates().itertuples(index=False)
    digests = {(m, d): expected_digest(m.split("@")[0], task, d) for m, d in pairs}
    expected = [digests[(m, d)] for m, d in zip(part["model"], part["dataset"], strict=True)]
    return part[part["settings_digest"].to_numpy() == pd.Series(expected).to_numpy()]


def equigrad_records(
    records: pd.DataFrame, subset: str | None, data_dir: Path | None
) -> pd.DataFrame:
    """Records of the reference-free tasks (equigrad) on ``subset``, made with each model's
    default settings."""
    if subset is None or records.empty:
        return pd.DataFrame()
    part = records[records["task"].isin([t.name for t in reference_free_tasks()])]
    if part.empty:
        return part
    dataset, ids = resolve_subset(subset, data_dir)
    part = part[(part["dataset"] == dataset) & part["material_id"].isin(ids)]
    pairs = part[["model", "task"]].drop_duplicates().itertuples(index=False)
    digests = {(m, t): expected_digest(m.split("@")[0], t, dataset) for m, t in pairs}
    default = [digests[(m, t)] for m, t in zip(part["model"], part["task"], strict=True)]
    keep = part["settings_digest"] == pd.Series(default, index=part.index, dtype=object)
    return part[keep].reset_index(drop=True)
