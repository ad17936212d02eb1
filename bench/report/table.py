"""Table 2 reporter: measured MAEs beside the Orb-v3 paper's, parity plots, outliers; and
beside it the equigrad table (median and 95th percentile of ‖Δrot‖ per model, histogram).

Only records made with the current default settings (per model: its effective dtype and the
data set's supercell rule) enter a number, so a table never mixes settings. Seed models that
were not run keep their row with the paper's figures and the reason they were not run.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.datasets import get_dataset, resolve_subset
from bench.models import checkpoint_status, list_models, resolve, unavailable_reason
from bench.protocols import effective_settings
from bench.report.metrics import (
    BASIS_TEXT,
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    FLAGS,
    PER_MOLE,
    distribution_table,
    format_mae,
    mae_display,
    mae_table,
    mean_interval,
    with_basis,
)
from bench.report.phonon_metrics import with_phonon_extras
from bench.run.records import is_records_dir, open_results
from bench.settings import settings_digest
from bench.tasks import TASKS, table2_tasks

PAPER_CSV = Path(__file__).resolve().parents[1] / "reference" / "orb_v3_table2.csv"
#: our property key -> (task, paper column, label with unit), for the Table 2 tasks
COLUMNS = {
    p.name: (task.name, p.paper_column, p.label) for task in table2_tasks() for p in task.props
}
DEFAULT_SUBSETS = {task.name: task.default_subset for task in table2_tasks()}
EQUIGRAD_SUBSET = TASKS["equigrad"].default_subset
#: default subset of every task `bench run` knows
TASK_DEFAULT_SUBSETS = {name: task.default_subset for name, task in TASKS.items()}


def paper_table() -> pd.DataFrame:
    """Orb-v3 Table 2 (MAE vs DFT), indexed by the paper's model name."""
    return pd.read_csv(PAPER_CSV, comment="#").set_index("model")


def expected_digest(model: str, task: str, dataset: str) -> str:
    """Digest of the default settings ``bench run`` uses for this model and data set (the
    data set's protocol; :func:`bench.protocols.effective_settings`, as the runner)."""
    return settings_digest(effective_settings(resolve(model).key, task, dataset))


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


def build_table(
    out_dirs: list[Path],
    subsets: dict[str, str] | None = None,
    data_dir: Path | None = None,
    equigrad_subset: str | None = EQUIGRAD_SUBSET,
) -> Table:
    """Aggregate the stores in ``out_dirs`` into the Table 2 comparison (and the equigrad
    records of ``equigrad_subset``; None: none)."""
    subsets = {**DEFAULT_SUBSETS, **(subsets or {})}
    frames, manifests = [], []
    for out in out_dirs:
        if (Path(out) / "bench.sqlite").exists() or is_records_dir(out):
            with open_results(out) as store:
                frames.append(store.records())
                manifests.extend(store.manifests())
    records = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not records.empty:  # the same material in several stores: keep the newest record
        key = ["model", "task", "dataset", "material_id", "settings_digest"]
        records = records.sort_values("created_at").drop_duplicates(key, keep="last")
    paper = paper_table()
    selected = []
    models = [s.key for s in list_models() if s.table2]
    if not records.empty:
        table2_records = records[records["task"].isin(list(subsets))]  # not equigrad's
        models += [m for m in table2_records["model"].unique() if m not in models]
    # a record label is the model key, or key@sha8 for a user checkpoint
    rows = []
    for key in models:
        spec = resolve(key.split("@")[0])
        row: dict = {"model": key, "paper_name": spec.table2 or ""}
        ran = False
        for task, subset in subsets.items():
            dataset, ids = resolve_subset(subset, data_dir)
            if records.empty:
                part = records
            else:
                part = records[
                    (records["model"] == key)
                    & (records["task"] == task)
                    & (records["dataset"] == dataset)
                    & records["material_id"].isin(ids)
                    & (records["settings_digest"] == expected_digest(spec.key, task, dataset))
                ]
            props = tuple(p for p, (t, _, _) in COLUMNS.items() if t == task)
            summary = mae_table(part, props) if len(part) else pd.DataFrame()
            first = summary.iloc[0] if len(summary) else pd.Series(dtype=object)
            ran |= len(part) > 0
            for prop in props:
                paper_value = (
                    paper.loc[spec.table2, COLUMNS[prop][1]]
                    if spec.table2 in paper.index
                    else np.nan
                )
                row[f"{prop}.paper"] = paper_value
                for suffix, column in (
                    (".mae", prop),
                    (".lo", f"{prop}.lo"),
                    (".hi", f"{prop}.hi"),
                ):
                    row[prop + suffix] = first.get(column, np.nan)
                row[f"{prop}.mae_stable_only"] = first.get(f"{prop}.stable", np.nan)
                row[f"{prop}.n"] = int(first.get(f"n_{prop}", 0))
            row[f"{task}.protocol"] = effective_settings(spec.key, task, dataset).protocol
            row[f"{task}.n_failed"] = int(first.get("n_failed", 0))
            for flag in FLAGS.values():
                if flag in first:
                    row[f"{task}.{flag}"] = int(first[flag])
            row[f"{task}.n_missing"] = len(ids) - len(part)
            row[f"{task}.coverage"] = f"{len(part)} of {len(ids)}"
            selected.append(part)
        row["not_run"] = "" if ran else (unavailable_reason(spec) or checkpoint_status(spec))
        rows.append(row)
    parts = [s for s in selected if len(s)]  # none: e.g. a store of equigrad records only
    used = pd.concat(parts, ignore_index=True) if parts else records.iloc[0:0]
    equigrad = _equigrad_records(records, equigrad_subset, data_dir)
    other = {
        task.name: _default_records(records, task.name)
        for task in TASKS.values()
        if task.has_reference and not task.table2
    }
    frame = with_phonon_extras(pd.DataFrame(rows), used)  # beyond Table 2: CSV and site only
    return Table(frame, used, subsets, manifests, equigrad, equigrad_subset, other)


def _default_records(records: pd.DataFrame, task: str) -> pd.DataFrame:
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


def task_table(table: Table, task: str) -> pd.DataFrame:
    """MAE [95 % interval] per (model, data set) of a task beside Table 2 (e.g. lattice)."""
    records = table.other.get(task, pd.DataFrame())
    if records.empty:
        return pd.DataFrame()
    properties = TASKS[task].properties
    summary = mae_table(records, properties)
    protocols = {
        d: TASKS[task].protocols and settings_protocol(task, d, records)
        for d in summary["settings_digest"]
    }
    return mae_display(summary, properties, protocols)


def settings_protocol(task: str, digest: str, records: pd.DataFrame) -> str:
    """The protocol name of the default settings behind ``digest`` in ``records``."""
    row = records[records["settings_digest"] == digest].iloc[0]
    return effective_settings(
        resolve(row["model"].split("@")[0]).key, task, row["dataset"]
    ).protocol


def frame_markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a markdown table (cells as text)."""
    head = "| " + " | ".join(map(str, frame.columns)) + " |\n"
    rule = "|---" * len(frame.columns) + "|\n"
    body = "".join(
        "| " + " | ".join(map(str, row)) + " |\n" for row in frame.itertuples(index=False)
    )
    return head + rule + body


def write_task_tables(table: Table, out: Path, command: str) -> list[Path]:
    """``<task>.md`` and ``.csv`` for each task beside Table 2 that has records."""
    paths = []
    for task in table.other:
        frame = task_table(table, task)
        if frame.empty:
            continue
        labels = ", ".join(f"`{p.name}` = {p.label}" for p in TASKS[task].props)
        md = out / f"{task}.md"
        md.write_text(
            f"# {task}\n\nMade by: `{command}`\n\nMAE against DFT [95 % bootstrap interval "
            f"over materials] per model and data set, default settings. {labels}.\n\n"
            + frame_markdown(frame)
        )
        csv_path = out / f"{task}.csv"
        mae_table(table.other[task], TASKS[task].properties).to_csv(csv_path, index=False)
        paths += [md, csv_path]
    return paths


def _equigrad_records(
    records: pd.DataFrame, subset: str | None, data_dir: Path | None
) -> pd.DataFrame:
    """Equigrad records of ``subset`` made with each model's default settings."""
    if subset is None or records.empty:
        return pd.DataFrame()
    part = records[records["task"] == "equigrad"]
    if part.empty:
        return part
    dataset, ids = resolve_subset(subset, data_dir)
    part = part[(part["dataset"] == dataset) & part["material_id"].isin(ids)]
    digests = {m: expected_digest(m.split("@")[0], "equigrad", dataset) for m in part["model"]}
    keep = part["settings_digest"] == part["model"].map(digests)
    return part[keep].reset_index(drop=True)


def _cell(row: pd.Series, prop: str) -> str:
    mae, paper = row[f"{prop}.mae"], row[f"{prop}.paper"]
    paper_txt = "N/A" if pd.isna(paper) else f"{paper:g}"
    return f"{format_mae(mae, row[f'{prop}.lo'], row[f'{prop}.hi'])} ({paper_txt})"


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
    subset = table.subsets.get("phonons")
    if subset is None:
        return None
    dataset, _ = resolve_subset(subset)
    return get_dataset(dataset).basis


def _counts(row: pd.Series, task: str, flag: str, flag_label: str) -> str:
    n = max(int(row.get(f"{p}.n", 0)) for p, (t, _, _) in COLUMNS.items() if t == task)
    text = f"{n} ({int(row.get(f'{task}.n_failed', 0))}"
    value = row.get(f"{task}.{flag}")
    if value is not None and pd.notna(value):
        text += f"; {int(value)} {flag_label}"
    return text + ")"


def to_markdown(table: Table) -> str:
    """Markdown: `measured [95 % interval] (paper)` per cell, counts per task, footer with
    protocols, coverage and provenance."""
    out = io.StringIO()
    basis = phonon_basis(table)
    heads = [column_label(p, basis) for p in COLUMNS]
    out.write(
        "| model | "
        + " | ".join(heads)
        + " | phonons n (failed; unstable) | elastic n (failed; not PD) | note |\n"
    )
    out.write("|---" * (len(heads) + 4) + "|\n")
    for _, row in table.frame.iterrows():
        cells = [_cell(row, p) for p in COLUMNS]
        counts = [
            _counts(row, "phonons", "n_unstable", "unstable"),
            _counts(row, "elasticity", "n_not_pd", "not PD"),
        ]
        note = row["not_run"].replace("|", "/")
        out.write(f"| {row['model']} | " + " | ".join(cells + counts) + f" | {note} |\n")
    timing = timings(table)
    if len(timing):
        out.write("\nWall time per material (s, median; split in parentheses):\n\n")
        for _, r in timing.iterrows():
            rss = r["peak_worker_rss_GB"]
            out.write(
                f"- {r['model']} {r['task']}: {r['median_wall_s']:.1f} ({r['split']}); "
                f"total {r['total_wall_h']:.2f} h for {r['n']} materials"
                + (f"; worker peak memory {rss:.1f} GB" if pd.notna(rss) else "")
                + "\n"
            )
    protocols = {
        task: sorted({str(p) for p in table.frame.get(f"{task}.protocol", pd.Series()).dropna()})
        for task in table.subsets
    }
    coverage = {
        task: sorted({str(c) for c in table.frame.get(f"{task}.coverage", pd.Series())})
        for task in table.subsets
    }

    def _coverage(task: str) -> str:
        return ", ".join(c for c in coverage.get(task, []) if not c.startswith("0 of")) or "–"

    out.write(
        "\nCells: MAE measured here [95 % bootstrap interval over materials, "
        f"{BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}] (paper's Table 2 value). "
        "Every ok material with a finite value counts, as the sources average "
        "(unstable phonons and elastic tensors that are not positive definite included; "
        "table2.csv also gives the MAE over the stable ones only). Subsets: "
        + ", ".join(
            f"{t}: `{s}` (protocol {', '.join(protocols.get(t) or ['–'])}; coverage {_coverage(t)})"
            for t, s in table.subsets.items()
        )
        + ".\n"
    )
    if basis in BASIS_TEXT:
        source = {"primcell": "the reference file's primitive_matrix"}.get(basis, "as given")
        out.write(
            f"S, F and Cv are per {BASIS_TEXT[basis].replace('mol ', 'mole of ')} ({source}).\n"
        )
    # provenance of the runs whose records are in the table (each record names its run)
    used_runs = set(table.records["run_id"]) if "run_id" in table.records else set()
    manifests = [m for m in table.manifests if m.get("run_id") in used_runs]
    if manifests:
        digests = sorted({m["settings_digest"] for m in manifests if m.get("settings_digest")})
        versions = manifests[-1].get("versions", {})
        commits = sorted({str(m.get("git_commit")) for m in manifests})
        checksums: dict[str, str] = {}
        for m in manifests:
            checksums.update(m.get("data_checksums") or {})
        out.write(f"\nSettings digests: {', '.join(digests) or '–'}. Code: {', '.join(commits)}.\n")
        out.write("Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".\n")
        files = sorted(k for k in checksums if k.startswith("matcalc/"))
        mdr = len([k for k in checksums if k.startswith("mdr/")])
        out.write(
            "Data: "
            + "; ".join(
                [f"`{k}` sha256 {checksums[k][:16]}…" for k in files]
                + ([f"{mdr} MDR files (sha256 of each in table2.provenance.json)"] if mdr else [])
            )
            + ".\n"
        )
    return out.getvalue()


#: timing entries that are not stages of the split (the model clock is reported as a share)
SKIP_TIMING_COLUMNS = ("time.model", "time.model_calls")


def timings(table: Table) -> pd.DataFrame:
    """Median wall time per material, its split (relax, forces, phonopy, ...) and the
    largest peak memory of a worker (GB; records that carry it)."""
    rows = []
    if not len(table.records):
        return pd.DataFrame()
    for (model, task), group in table.records.groupby(["model", "task"]):
        parts = [c for c in group.columns if c.startswith("time.") and c not in SKIP_TIMING_COLUMNS]
        split = ", ".join(
            f"{c[5:]} {group[c].median():.1f}" for c in parts if group[c].notna().any()
        )
        if "time.model" in group and group["time.model"].notna().any():
            timed = group[group["time.model"].notna()]  # records made since the clock existed
            share = 100 * timed["time.model"].sum() / timed["wall_s"].sum()
            split += f"; {share:.0f} % of wall time inside the model"
        rss = [
            json.loads(d or "{}").get("worker_peak_rss_MB")
            for d in group.get("details_json", pd.Series(dtype=object))
        ]
        rss = [r for r in rss if r is not None]
        rows.append(
            {
                "model": model,
                "task": task,
                "n": len(group),
                "median_wall_s": group["wall_s"].median(),
                "total_wall_h": group["wall_s"].sum() / 3600,
                "peak_worker_rss_GB": max(rss) / 1024 if rss else float("nan"),
                "split": split,
            }
        )
    return pd.DataFrame(rows)


def parity_plots(table: Table, directory: Path) -> list[Path]:
    """One PNG per model and property: model vs DFT, with the MAE in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    ok = table.records[table.records["status"] == "ok"] if len(table.records) else table.records
    for model, group in ok.groupby("model") if len(ok) else []:
        for prop, (_, _, label) in COLUMNS.items():
            cols = [f"model.{prop}", f"ref.{prop}"]
            if not set(cols) <= set(group.columns):
                continue
            data = group[cols].astype(float).dropna()
            if data.empty:
                continue
            x, y = data[cols[1]].to_numpy(), data[cols[0]].to_numpy()
            fig, ax = plt.subplots(figsize=(3.6, 3.6), dpi=120)
            lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
            pad = 0.05 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=0.8)
            ax.scatter(x, y, s=10, alpha=0.7)
            ax.set_xlabel(f"DFT {label}")
            ax.set_ylabel(f"{model} {label}")
            err = np.abs(x - y)
            ax.set_title(
                f"MAE {format_mae(err.mean(), *mean_interval(err))} (n={len(x)})", fontsize=9
            )
            fig.tight_layout()
            path = directory / f"{model}__{prop}.png"
            fig.savefig(path)
            plt.close(fig)
            paths.append(path)
    return paths


def outliers(table: Table, top: int = 10) -> pd.DataFrame:
    """The ``top`` largest absolute errors per model and property."""
    rows = []
    ok = table.records[table.records["status"] == "ok"] if len(table.records) else table.records
    for prop in COLUMNS:
        cols = [f"model.{prop}", f"ref.{prop}"]
        if not len(ok) or not set(cols) <= set(ok.columns):
            continue
        part = ok[["model", "material_id", *cols]].dropna().copy()
        part["abs_error"] = (part[cols[0]].astype(float) - part[cols[1]].astype(float)).abs()
        for _, group in part.groupby("model"):
            for _, r in group.nlargest(top, "abs_error").iterrows():
                rows.append(
                    {
                        "model": r["model"],
                        "property": prop,
                        "material_id": r["material_id"],
                        "model_value": r[cols[0]],
                        "dft_value": r[cols[1]],
                        "abs_error": r["abs_error"],
                    }
                )
    return pd.DataFrame(rows)


def write_report(table: Table, out: Path, command: str) -> list[Path]:
    """results/table2.md, table2.csv, outliers.csv, parity/*.png; equigrad.md, .csv and
    equigrad_hist.png when there are equigrad records."""
    out.mkdir(parents=True, exist_ok=True)
    md = out / "table2.md"
    md.write_text(f"# Orb-v3 Table 2, reproduced\n\nMade by: `{command}`\n\n" + to_markdown(table))
    csv_path = out / "table2.csv"
    basis = phonon_basis(table)
    table.frame.rename(columns=lambda c: with_basis(c, basis)).to_csv(csv_path, index=False)
    outlier_path = out / "outliers.csv"
    outliers(table).to_csv(outlier_path, index=False)
    plots = parity_plots(table, out / "parity")
    (out / "table2.provenance.json").write_text(json.dumps(table.manifests, indent=1, default=str))
    others = write_task_tables(table, out, command)
    return [md, csv_path, outlier_path, *plots, *write_equigrad(table, out, command), *others]


#: equigrad property -> column label (all from ``distribution_table``)
EQUIGRAD_COLUMNS = {
    "delta_rot_eV": "‖Δrot‖ [eV]",
    "delta_rot_eV_per_atom": "‖Δrot‖/N [eV/atom]",
    "rotation_dE_eV_per_atom": "ΔE under a random R, per atom [eV]",
    "force_equiv_max_eV_per_A": "max ‖F(rR) − F(r)R‖ [eV/Å]",
}


def equigrad_table(table: Table) -> pd.DataFrame:
    """One row per model: counts, method, and median / p95 of each equigrad property."""
    records = table.equigrad
    if records.empty:
        return pd.DataFrame()
    summary = distribution_table(records, tuple(EQUIGRAD_COLUMNS))
    methods = {}
    for model, group in records[records["status"] == "ok"].groupby("model"):
        found = {json.loads(d or "{}").get("method") for d in group["details_json"]}
        methods[model] = "+".join(sorted(m for m in found if m))
    summary["method"] = summary["model"].map(methods).fillna("")
    keep = ["model", "dataset", "settings_digest", "n", "n_ok", "n_failed", "method"]
    for prop in EQUIGRAD_COLUMNS:
        keep += [f"{prop}.median", f"{prop}.p95"]
    return summary[keep]


def equigrad_markdown(table: Table) -> str:
    """Markdown of :func:`equigrad_table`: `median (p95)` per cell."""
    frame = equigrad_table(table)
    out = io.StringIO()
    out.write("| model | " + " | ".join(EQUIGRAD_COLUMNS.values()) + " | n (failed) | method |\n")
    out.write("|---" * (len(EQUIGRAD_COLUMNS) + 3) + "|\n")
    for _, row in frame.iterrows():
        cells = [
            f"{row[f'{p}.median']:.3g} ({row[f'{p}.p95']:.3g})"
            if pd.notna(row[f"{p}.median"])
            else "–"
            for p in EQUIGRAD_COLUMNS
        ]
        count = f"{int(row['n_ok'])} ({int(row['n_failed'])})"
        out.write(f"| {row['model']} | " + " | ".join(cells) + f" | {count} | {row['method']} |\n")
    out.write(
        "\nCells: median (95th percentile) over the materials of "
        f"`{table.equigrad_subset}`, reference structures unrelaxed. No DFT reference: an "
        "invariant model gives 0. Δrot = ∂E(rR, hR)/∂G at G = 0 with R = exp(G − Gᵀ) "
        "(Frobenius norm, eV); method autograd (the adapter's differentiable energy) or fd "
        "(central differences over the three so(3) generators). Settings digests: "
        + ", ".join(sorted(set(frame["settings_digest"])))
        + ".\n"
    )
    return out.getvalue()


def equigrad_histogram(table: Table, path: Path, floor_eV: float = 1e-12) -> Path | None:
    """Histogram of log10 ‖Δrot‖ (eV) per model (values below ``floor_eV`` at the floor)."""
    records = table.equigrad
    if records.empty or "model.delta_rot_eV" not in records:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = records[records["status"] == "ok"]
    data = {
        model: np.log10(np.maximum(group["model.delta_rot_eV"].astype(float).dropna(), floor_eV))
        for model, group in ok.groupby("model")
    }
    data = {k: v for k, v in data.items() if len(v)}
    if not data:
        return None
    values = np.concatenate(list(data.values()))
    bins = np.linspace(values.min() - 0.5, values.max() + 0.5, 25)
    fig, ax = plt.subplots(figsize=(5.0, 3.4), dpi=120)
    for model, v in data.items():
        ax.hist(v, bins=bins, alpha=0.55, label=f"{model} (n={len(v)})")
    ax.set_xlabel("log10 ‖Δrot‖ [eV]")
    ax.set_ylabel("materials")
    ax.set_title(f"equigrad, {table.equigrad_subset}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_equigrad(table: Table, out: Path, command: str) -> list[Path]:
    """results/equigrad.md, equigrad.csv and equigrad_hist.png (nothing without records)."""
    if table.equigrad.empty:
        return []
    out.mkdir(parents=True, exist_ok=True)
    md = out / "equigrad.md"
    md.write_text(
        f"# Equigrad: rotational invariance (‖Δrot‖)\n\nMade by: `{command}`\n\n"
        + equigrad_markdown(table)
    )
    csv_path = out / "equigrad.csv"
    equigrad_table(table).to_csv(csv_path, index=False)
    hist = equigrad_histogram(table, out / "equigrad_hist.png")
    return [md, csv_path, *([hist] if hist else [])]
