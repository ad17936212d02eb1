"""Which records a table takes: those made with each model's default settings (its effective
dtype, the data set's protocol and supercell rule), on a subset's materials. A model outside
the catalogue whose factory chose its precision is hashed under the dtype it computed in
(:func:`bench.run.precheck.resolved_dtype`): its default digest comes from its manifests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from bench.datasets import resolve_subset
from bench.errors import ConfigurationError, ModelUnavailableError
from bench.models.external import NATIVE
from bench.models.registry import label_spec
from bench.protocols import effective_settings
from bench.settings import settings_digest
from bench.tasks import reference_free_tasks

#: (model, task, data set) -> the default settings digest of a model outside the catalogue
#: whose dtype its factory chose (:func:`resolved_defaults`)
Resolved = Mapping[tuple[str, str, str], str]


def expected_digest(model: str, task: str, dataset: str, resolved: Resolved | None = None) -> str:
    """Digest of the default settings ``bench run`` uses for this model and data set (the
    data set's protocol; :func:`bench.protocols.effective_settings`, as the runner); for a
    model outside the catalogue run with its factory's own precision, the digest its runs
    hashed under that precision's name (``resolved``: :func:`resolved_defaults`)."""
    found = (resolved or {}).get((model, task, dataset))
    return found or settings_digest(effective_settings(label_spec(model), task, dataset))


def resolved_defaults(manifests: Sequence[dict]) -> dict[tuple[str, str, str], str]:
    """(model, task, data set) -> settings digest of the newest run (``manifests`` are oldest
    first) with the default settings of a model whose dtype was ``native`` (its factory's
    own), which the run resolved to the precision it computed in (the manifest's ``dtype``;
    :func:`bench.run.precheck.resolved_dtype`). A run with other settings (``--set``, a
    ``--dtype``, another protocol) is not a default run and is left out."""
    out: dict[tuple[str, str, str], str] = {}
    for m in manifests:
        if m.get("dtype_requested") != NATIVE or not m.get("dtype"):
            continue
        key = (str(m.get("model")), str(m.get("task")), str(m.get("dataset")))
        try:
            default = effective_settings(label_spec(key[0]), key[1], key[2])
        except (ConfigurationError, ModelUnavailableError, KeyError):
            continue  # a task or protocol this version does not know
        if settings_digest(replace(default, dtype=m["dtype"])) == m.get("settings_digest"):
            out[key] = m["settings_digest"]
    return out


def subset_records(
    records: pd.DataFrame,
    key: str,
    task: str,
    dataset: str,
    ids: list[str],
    resolved: Resolved | None = None,
) -> pd.DataFrame:
    """The records of model ``key`` on the materials ``ids``, made with its default settings."""
    if records.empty:
        return records
    return records[
        (records["model"] == key)
        & (records["task"] == task)
        & (records["dataset"] == dataset)
        & records["material_id"].isin(ids)
        & (records["settings_digest"] == expected_digest(key, task, dataset, resolved))
    ]


def default_records(
    records: pd.DataFrame, task: str, resolved: Resolved | None = None
) -> pd.DataFrame:
    """The task's records made with each model's default settings for their data set."""
    if records.empty:
        return pd.DataFrame()
    part = records[records["task"] == task]
    if part.empty:
        return part
    pairs = part[["model", "dataset"]].drop_duplicates().itertuples(index=False)
    digests = {(m, d): expected_digest(m, task, d, resolved) for m, d in pairs}
    expected = [digests[(m, d)] for m, d in zip(part["model"], part["dataset"], strict=True)]
    return part[part["settings_digest"].to_numpy() == pd.Series(expected).to_numpy()]


def equigrad_records(
    records: pd.DataFrame,
    subset: str | None,
    data_dir: Path | None,
    resolved: Resolved | None = None,
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
    digests = {(m, t): expected_digest(m, t, dataset, resolved) for m, t in pairs}
    default = [digests[(m, t)] for m, t in zip(part["model"], part["task"], strict=True)]
    keep = part["settings_digest"] == pd.Series(default, index=part.index, dtype=object)
    return part[keep].reset_index(drop=True)
