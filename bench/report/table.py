"""Table 2 reporter: measured MAEs beside the Orb-v3 paper's, parity plots, outliers; and
beside it the equigrad table (median and 95th percentile of ‖Δrot‖ per model, histogram).

Only records made with the current default settings (per model: its effective dtype and the
data set's supercell rule) enter a number, so a table never mixes settings. Seed models that
were not run keep their row with the paper's figures and the reason they were not run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.datasets import get_dataset, resolve_subset
from bench.datasets import subsets as subset_datasets
from bench.models import list_models
from bench.models.registry import label_spec
from bench.models.status import cannot_run_reason
from bench.protocols import effective_settings
from bench.report.loading import load_records, training_of
from bench.report.metrics import (
    BASIS_TEXT,
    FLAGS,
    PER_MOLE,
    mae_table,
)
from bench.report.phonon_metrics import with_phonon_extras
from bench.report.scope import mae_scope, used_ids
from bench.report.selection import (
    Resolved,
    default_records,
    equigrad_records,
    resolved_defaults,
    subset_records,
)
from bench.tasks import TASKS, per_mole_tasks, reference_free_tasks, table2_tasks

PAPER_CSV = Path(__file__).resolve().parents[1] / "reference" / "orb_v3_table2.csv"
#: our property key -> (task, paper column, label with unit), for the Table 2 tasks
COLUMNS = {
    p.name: (task.name, p.paper_column, p.label) for task in table2_tasks() for p in task.props
}
DEFAULT_SUBSETS = {task.name: task.default_subset for task in table2_tasks()}
#: the reference-free tasks' default subset (equigrad's): their distributions' records
EQUIGRAD_SUBSET = next((t.default_subset for t in reference_free_tasks()), None)
#: default subset of every task `bench run` knows
TASK_DEFAULT_SUBSETS = {name: task.default_subset for name, task in TASKS.items()}
#: the data set the Orb-v3 paper measured each Table 2 task on (MDR's phonons; MatCalc's
#: Materials Project elastic set): a paper value is shown only beside records of that set
PAPER_SETS = {t.name: t.paper_dataset for t in TASKS.values() if t.paper_dataset}
#: short names of the data sets for headers
SET_NAMES = {
    "mdr-pbe": "MDR",
    "alexandria-binary-pbe-phonon-2025.1": "MatCalc Cv set",
    "mp-binary-pbe-elasticity-2025.1": "MatCalc elastic set",
    "mp-pbe-elasticity-2025.3": "MatCalc elastic set 2025.3",
}


def paper_table() -> pd.DataFrame:
    """Orb-v3 Table 2 (MAE vs DFT), indexed by the paper's model name."""
    return pd.read_csv(PAPER_CSV, comment="#").set_index("model")


@dataclass
class Table:
    """The comparison table and what it was built from."""

    frame: pd.DataFrame  # one row per model; per property: mae, paper, n, failed
    records: pd.DataFrame  # the per-material records that entered the numbers
    subsets: dict[str, str]
    manifests: list[dict]
    #: equigrad records (default settings, ``equigrad_subset``) that enter equigrad.md
    equigrad: pd.DataFrame = field(default_factory=pd.DataFrame)
    equigrad_subset: str | None = None
    #: records (default settings) of the other tasks with a reference (e.g. lattice), per task
    other: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: records of the table's subsets that entered no number (a coverage only, or beyond a
    #: random prefix): their failures are still listed
    unscored: pd.DataFrame = field(default_factory=pd.DataFrame)


def build_table(
    out_dirs: list[Path],
    subsets: dict[str, str | None] | None = None,
    data_dir: Path | None = None,
    equigrad_subset: str | None = EQUIGRAD_SUBSET,
    recorded_only: bool = False,
    own_records_only: bool = False,
    paper_rows: bool = True,
) -> Table:
    """Aggregate the stores in ``out_dirs`` into the Table 2 comparison (and the equigrad
    records of ``equigrad_subset``; None: none). ``subsets``: task -> subset (a task left out
    takes its default; None leaves the task out of the table). ``recorded_only``: rows only for
    the models with records on the table's subsets and (``paper_rows``) the paper's rows with a
    value there, so the table depends on the records alone (otherwise every Table 2 model has a
    row, and those without records say why, from this machine's state).
    ``own_records_only``: a model's records on a subset that are neither the whole subset nor a
    prefix of its order (materials of another subset) count as none (the site's sections)."""
    chosen = {**DEFAULT_SUBSETS, **(subsets or {})}
    subsets = {task: subset for task, subset in chosen.items() if subset is not None}
    records, manifests = load_records(out_dirs)
    paper = paper_table()
    models = [s.key for s in list_models() if s.table2]
    if not records.empty:
        table2_records = records[records["task"].isin(list(subsets))]  # not equigrad's
        models += [m for m in table2_records["model"].unique() if m not in models]
    rows, selected, resolved = [], [], resolved_defaults(manifests)
    for key in models:  # a record label is the model key, or key@sha8 for a user checkpoint
        row, parts = _model_row(key, records, subsets, data_dir, paper, own_records_only, resolved)
        if recorded_only and row["note"]:  # no records here: the paper's value at most
            if not (paper_rows and any(pd.notna(row[f"{p}.paper"]) for p in _props(row))):
                continue
            row["not_run"], row["note"] = "", "the paper's value only"
        rows.append(row)
        selected += parts
    rows.sort(key=lambda row: bool(row["note"]))  # the models with records first
    parts = [s for s, _ in selected if len(s)]  # none: e.g. a store of equigrad records only
    used = pd.concat(parts, ignore_index=True) if parts else records.iloc[0:0]
    rest = [r for _, r in selected if len(r)]
    unscored = pd.concat(rest, ignore_index=True) if rest else records.iloc[0:0]
    equigrad = equigrad_records(records, equigrad_subset, data_dir, resolved)
    other = {
        task.name: default_records(records, task.name, resolved)
        for task in TASKS.values()
        if task.has_reference and not task.table2
    }
    frame = with_phonon_extras(pd.DataFrame(rows), used)  # beyond Table 2: CSV and site only
    models = frame.get("model", [])  # no rows: a section without records
    frame["training"] = [training_of(m, manifests) for m in models]
    return Table(frame, used, subsets, manifests, equigrad, equigrad_subset, other, unscored)


def _props(row: dict) -> list[str]:
    """The Table 2 properties of a row's tasks."""
    return [p for p in COLUMNS if f"{p}.paper" in row]


def _model_row(
    key: str,
    records: pd.DataFrame,
    subsets: dict[str, str],
    data_dir: Path | None,
    paper: pd.DataFrame,
    own_records_only: bool = False,
    resolved: Resolved | None = None,
) -> tuple[dict, list[tuple[pd.DataFrame, pd.DataFrame]]]:
    """One model's row (MAE, interval, paper value, counts per property and task) and, per
    task, the records that entered it (its default settings; the whole subset or a random
    prefix of it, :mod:`bench.report.scope`) and the rest. ``own_records_only``: records that
    are neither (materials of another subset) count as none. Failures are counted over the
    records of the number, or over all of them when there is none."""
    spec = label_spec(key)
    row: dict = {"model": key, "paper_name": spec.table2 or ""}
    ran, selected = False, []
    for task, subset in subsets.items():
        dataset, ids = resolve_subset(subset, data_dir)
        part = subset_records(records, key, task, dataset, ids, resolved)
        scope = mae_scope(subset, ids, set(part["material_id"]) if len(part) else ())
        if own_records_only and not scope.has_number and not scope.in_order:
            part, scope = part.iloc[0:0], mae_scope(subset, ids, ())
        used = part[part["material_id"].isin(used_ids(scope, ids))] if len(part) else part
        props = tuple(p for p, (t, _, _) in COLUMNS.items() if t == task)
        summary = mae_table(used, props) if len(used) else pd.DataFrame()
        first = summary.iloc[0] if len(summary) else pd.Series(dtype=object)
        ran |= len(part) > 0
        in_paper = spec.table2 in paper.index and dataset == PAPER_SETS.get(task)
        for prop in props:
            row[f"{prop}.paper"] = paper.loc[spec.table2, COLUMNS[prop][1]] if in_paper else np.nan
            for suffix, column in ((".mae", prop), (".lo", f"{prop}.lo"), (".hi", f"{prop}.hi")):
                row[prop + suffix] = first.get(column, np.nan)
            row[f"{prop}.mae_stable_only"] = first.get(f"{prop}.stable", np.nan)
            row[f"{prop}.n"] = int(first.get(f"n_{prop}", 0))
        row[f"{task}.protocol"] = effective_settings(spec, task, dataset).protocol
        row[f"{task}.dataset"] = dataset
        counted = used if scope.has_number else part
        row[f"{task}.n_failed"] = int((counted["status"] != "ok").sum()) if len(counted) else 0
        for flag in FLAGS.values():
            if flag in first:
                row[f"{task}.{flag}"] = int(first[flag])
        row[f"{task}.n_missing"] = len(ids) - len(part)
        row[f"{task}.n_scored"] = len(used)  # the materials of the number, ok or not
        row[f"{task}.coverage"] = scope.coverage
        row[f"{task}.mae_from"] = scope.label
        row[f"{task}.no_mae"] = scope.reason
        selected.append((used, part.drop(used.index)))
    row["not_run"] = "" if ran else (cannot_run_reason(spec) or "")
    row["note"] = f"not run here: {row['not_run']}" if row["not_run"] else ""
    row["note"] = row["note"] or ("" if ran else "no records")
    return row, selected


def column_label(prop: str, basis: str | None) -> str:
    """Header of a property: its unit, with the per-mole basis for S, F and Cv."""
    label = COLUMNS[prop][2]
    if prop in PER_MOLE and basis in BASIS_TEXT:  # "S [J/mol·K]" -> "S [J/K per mol ...]"
        name, unit = label[: label.index("[")], label[label.index("[") + 1 : -1]
        energy = unit.split("/")[0] + ("/K" if "K" in unit.split("/")[1] else "")
        label = f"{name}[{energy} per {BASIS_TEXT[basis]}]"
    return label


def phonon_basis(table: Table) -> str | None:
    """The per-mole basis of the phonon subset's data set ("primcell", "cell")."""
    subset = next((table.subsets[t] for t in per_mole_tasks() if t in table.subsets), None)
    if subset is None:
        return None
    dataset = subset_datasets().get(subset)  # the name alone: no listing of ids (mdr-full, offline)
    return get_dataset(dataset).basis if dataset else None


def table_datasets(table: Table) -> dict[str, str]:
    """Task -> the data set of its subset."""
    names = subset_datasets()  # the names alone: no listing of ids (mdr-full, offline)
    return {task: names.get(subset, "") for task, subset in table.subsets.items()}


def shown_columns(table: Table) -> list[str]:
    """The Table 2 properties with a measured or a paper value in some row (a set that scores
    only Cv, as MatCalc's, shows no ωmax, S or F column); a task whose records all failed, or
    give no number (coverage only), keeps its columns."""
    frame = table.frame

    def has(prop: str) -> bool:
        n = frame.get(f"{prop}.n", pd.Series(dtype=float)).fillna(0)
        return bool((n > 0).any() or frame.get(f"{prop}.paper", pd.Series()).notna().any())

    shown = []
    for task in table.subsets:
        props = [p for p, (t, _, _) in COLUMNS.items() if t == task]
        failed = frame.get(f"{task}.n_failed", pd.Series(dtype=float)).fillna(0)
        no_mae = frame.get(f"{task}.no_mae", pd.Series(dtype=object)).fillna("")
        if ((failed > 0).any() or (no_mae != "").any()) and not any(has(p) for p in props):
            shown += props
        else:
            shown += [p for p in props if has(p)]
    return shown


def column_header(table: Table, prop: str) -> str:
    """A property's header naming its unit, per-mole basis and data set:
    ``Cv [J/K per mol given cells], MatCalc Cv set``."""
    task = COLUMNS[prop][0]
    dataset = table_datasets(table).get(task, "")
    return f"{column_label(prop, phonon_basis(table))}, {SET_NAMES.get(dataset, dataset)}"


def any_flagged(table: Table, count: str) -> bool:
    """Whether some model has a material counted under ``count`` (a task's flag count, e.g.
    ``n_unstable``) in the table."""
    frame = table.frame
    columns = [f"{t.name}.{count}" for t in TASKS.values() if count in t.flag_labels]
    return any(frame.get(c, pd.Series(dtype=float)).fillna(0).gt(0).any() for c in columns)


def paper_measured(table: Table, task: str) -> bool:
    """Whether the paper measured ``task`` on the table's data set."""
    return table_datasets(table).get(task) == PAPER_SETS.get(task)
