"""Records for the reports: every record of the results directories (stores or records
folders), the newest of each key, without those of models this version does not know."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.errors import UnknownModelError, warn
from bench.models import resolve
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
    records = known_models(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())
    if not records.empty:  # the same material in several stores: the store's rule decides
        rows = records[["status", "seq", "created_at"]].to_dict("records")
        order = pd.Series([order_key(r) for r in rows], index=records.index)
        records = records.loc[order.sort_values(kind="stable").index]
        records = records.drop_duplicates(list(KEY), keep="last")
    return records, manifests


def known_models(records: pd.DataFrame) -> pd.DataFrame:
    """``records`` without those of models this version does not know (records from a newer
    bench, or a crafted part), with a warning naming them: the rest still makes a table."""
    if records.empty:
        return records
    labels = records["model"].drop_duplicates()
    unknown = sorted(m for m in labels if not _is_known(str(m)))
    if unknown:
        warn(f"skipped the records of models this version does not know: {', '.join(unknown)}")
    return records[~records["model"].isin(unknown)].reset_index(drop=True)


def _is_known(label: str) -> bool:
    try:
        resolve(label.split("@")[0])
    except UnknownModelError:
        return False
    return True
