"""Records for the reports: every record of the results directories (stores or records
folders), the newest of each key, without those of models this version does not know."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.errors import warn
from bench.models.entries import training_text
from bench.models.external import FAMILY
from bench.models.registry import label_spec
from bench.run.records import is_records_dir, open_results
from bench.run.schema import KEY, order_key


def load_records(out_dirs: list[Path]) -> tuple[pd.DataFrame, list[dict]]:
    """Every record of the stores or records directories (the newest of each material and
    settings digest where several hold it) and their run manifests."""
    frames, manifests = [], []
    for out in out_dirs:
        if (Path(out) / "bench.sqlite").exists() or is_records_dir(out):
            with open_results(out) as store:
                frames.append(store.records())
                manifests.extend(store.manifests())
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    records = known_models(records, manifests)
    if not records.empty:  # the same material in several stores: the store's rule decides
        rows = records[["status", "seq", "created_at"]].to_dict("records")
        order = pd.Series([order_key(r) for r in rows], index=records.index)
        records = records.loc[order.sort_values(kind="stable").index]
        records = records.drop_duplicates(list(KEY), keep="last")
    return records, manifests


def known_models(records: pd.DataFrame, manifests: list[dict] | tuple = ()) -> pd.DataFrame:
    """``records`` without those of models this version does not know (records from a newer
    bench, or a crafted part), with a warning naming them: the rest still makes a table.
    Known: the catalogue's, and a model outside it (an import path, a models-file entry, a
    plug-in) whose run manifest carries its identity (``model_identity``)."""
    if records.empty:
        return records
    labels = records["model"].drop_duplicates()
    own = {m.get("model") for m in manifests if m.get("model_identity")}
    unknown = sorted(m for m in labels if m not in own and not _is_known(str(m)))
    if unknown:
        warn(f"skipped the records of models this version does not know: {', '.join(unknown)}")
    return records[~records["model"].isin(unknown)].reset_index(drop=True)


def _is_known(label: str) -> bool:
    """A catalogue key or alias (``@<sha256[:8]>`` of a checkpoint allowed); imports nothing."""
    return label_spec(label).family != FAMILY


def training_of(model: str, manifests: list[dict]) -> str:
    """What a models file says of ``model``'s training (ml-peg's metadata: data sets, level
    of theory, dispersion), from its runs' manifests; "" when none says."""
    for manifest in reversed(manifests):
        if manifest.get("model") == model and manifest.get("model_metadata"):
            return training_text(manifest["model_metadata"])
    return ""
