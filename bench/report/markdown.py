"""Table 2 as markdown: measured [interval] (paper) per cell, counts, timings, protocols,
coverage and provenance."""

from __future__ import annotations

import io

import pandas as pd

from bench.report.cells import TASK_FLAGS, counts_text, mae_notes, text_of
from bench.report.metrics import (
    BASIS_TEXT,
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    PER_MOLE,
    format_mae,
)
from bench.report.paired import paired_markdown, table_labels, table_paired
from bench.report.scope import AVAILABLE_SUBSETS, MIN_PREFIX, subset_kind
from bench.report.table import (
    COLUMNS,
    SET_NAMES,
    Table,
    any_flagged,
    column_header,
    paper_measured,
    phonon_basis,
    shown_columns,
    table_datasets,
)
from bench.run.schema import details_of

TITLE = "Orb-v3 Table 2 — measured here beside the paper"


def frame_markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a markdown table (cells as text)."""
    head = "| " + " | ".join(map(str, frame.columns)) + " |\n"
    rule = "|---" * len(frame.columns) + "|\n"
    body = "".join(
        "| " + " | ".join(map(str, row)) + " |\n" for row in frame.itertuples(index=False)
    )
    return head + rule + body


def _cell(row: pd.Series, prop: str) -> str:
    """``14.9 [14.0, 16.2] (paper 12)``; a random prefix says so, and an MAE over a minority
    of its materials; records that give no number (:mod:`bench.report.scope`) show their
    coverage (:func:`bench.report.cells.mae_notes`)."""
    mae, paper = row[f"{prop}.mae"], row[f"{prop}.paper"]
    text = format_mae(mae, row[f"{prop}.lo"], row[f"{prop}.hi"])
    notes = mae_notes(row, prop) + ([] if pd.isna(paper) else [f"paper {paper:g}"])
    return f"{text} ({'; '.join(notes)})" if notes else text


def measured_tasks(table: Table) -> list[str]:
    """The Table 2 tasks with a shown column."""
    shown = {COLUMNS[p][0] for p in shown_columns(table)}
    return [t for t in table.subsets if t in shown]


def to_markdown(table: Table) -> str:
    """Markdown: `measured [95 % interval] (paper)` per cell, counts per task, footer with
    protocols, coverage and a pointer to the provenance."""
    out = io.StringIO()
    shown = shown_columns(table)
    tasks = measured_tasks(table)
    heads = [column_header(table, p) for p in shown]
    heads += [f"{t} n (failed; {TASK_FLAGS[t][1]})" for t in tasks]
    out.write("| model | " + " | ".join(heads) + " | note |\n")
    out.write("|---" * (len(heads) + 2) + "|\n")
    for _, row in table.frame.iterrows():
        cells = [_cell(row, p) for p in shown]
        cells += [counts_text(row, t, TASK_FLAGS[t][0]) for t in tasks]
        note = str(row.get("note") or "").replace("|", "/")
        model = f"{row['model']} ({row['training']})" if row.get("training") else row["model"]
        out.write(f"| {model} | " + " | ".join(cells) + f" | {note} |\n")
    out.write(paired_markdown(table_paired(table), table_labels(table)))
    _write_timings(out, table)
    _write_footer(out, table, phonon_basis(table))
    _write_provenance(out, table)
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
        stages = ", ".join(
            f"{c[5:]} {group[c].median():.1f}" for c in parts if group[c].notna().any()
        )
        pieces = [stages] if stages else []  # records without stages: no empty split
        if "time.model" in group and group["time.model"].notna().any():
            timed = group[group["time.model"].notna()]  # records made since the clock existed
            wall = timed["wall_s"].sum()
            if wall > 0:
                share = 100 * timed["time.model"].sum() / wall
                pieces.append(f"{share:.0f} % of wall time inside the model")
        split = "; ".join(pieces)
        rss = [
            details_of(d).get("worker_peak_rss_MB")
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


def _write_timings(out: io.StringIO, table: Table) -> None:
    """Median wall time per material and its split, per model and task."""
    timing = timings(table)
    if len(timing):
        out.write("\nWall time per material (s, median; split in parentheses):\n\n")
        for _, r in timing.iterrows():
            rss = r["peak_worker_rss_GB"]
            split = f" ({r['split']})" if r["split"] else ""
            out.write(
                f"- {r['model']} {r['task']}: {r['median_wall_s']:.1f}{split}; "
                f"total {r['total_wall_h']:.2f} h for {r['n']} materials"
                + (f"; worker peak memory {rss:.1f} GB" if pd.notna(rss) else "")
                + "\n"
            )


def intro(table: Table) -> str:
    """Which rows were run here, on which sets, and whether the sets compare with the paper's
    (a warning for picked subsets)."""
    datasets = table_datasets(table)
    runs = []
    for task in measured_tasks(table):
        column = table.frame.get(f"{task}.coverage", pd.Series(dtype=str)).astype(str)
        models = [m for m, c in zip(table.frame["model"], column, strict=True) if c[:2] != "0 "]
        if models:
            where = f"`{table.subsets[task]}` ({SET_NAMES.get(datasets[task], datasets[task])})"
            runs.append(f"{', '.join(models)} on {where}")
    text = "Measured here: " + ("; ".join(runs) or "nothing yet") + ". "
    paper = [t for t in table.subsets if paper_measured(table, t)]
    text += (
        "The paper's values (MAE over its whole set) stand beside the measured ones only where "
        "the paper measured that set"
        + (f" (here: {', '.join(paper)})." if paper else "; none here.")
    )
    picked = [s for s in table.subsets.values() if subset_kind(s) == "picked"]
    if picked:
        text += (
            f"\n\n**Note: {', '.join(f'`{s}`' for s in picked)} "
            f"{'is a' if len(picked) == 1 else 'are'} hand-picked subset"
            f"{'' if len(picked) == 1 else 's'} (cheap, easy materials): "
            "their MAEs are not comparable with full-set values such as the paper's.**"
        )
    for subset in table.subsets.values():
        if subset_kind(subset) == "available":
            text += f"\n\n`{subset}`: {AVAILABLE_SUBSETS[subset]}."
    return text + "\n"


def coverage_text(table: Table, task: str) -> str:
    """``chgnet-0.3.0 3953 of 3953, 7net-0 3512 of 3953``: each model's coverage."""
    frame = table.frame
    column = frame.get(f"{task}.coverage", pd.Series("", index=frame.index)).astype(str)
    parts = [f"{m} {c}" for m, c in zip(frame["model"], column, strict=True) if c[:2] != "0 "]
    return ", ".join(parts) or "no records"


def _write_footer(out: io.StringIO, table: Table, basis: str | None) -> None:
    """What a cell means, the subsets with their protocols and each model's coverage, the
    per-mole basis, what unstable means for Cv."""
    protocols = {
        task: sorted({str(p) for p in table.frame.get(f"{task}.protocol", pd.Series()).dropna()})
        for task in table.subsets
    }
    out.write(
        "\nCells: MAE measured here [95 % bootstrap interval over materials, "
        f"{BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}] (paper's Table 2 value, where "
        "the paper measured that set). Every ok material with a finite value counts, as the "
        "sources average (unstable phonons and elastic tensors that are not positive definite "
        "included; table2.csv also gives the MAE over the stable ones only). Sets: "
        + "; ".join(
            f"{t}: `{s}` (protocol {', '.join(protocols.get(t) or ['–'])}; coverage: "
            f"{coverage_text(table, t)})"
            for t, s in table.subsets.items()
        )
        + ".\n"
    )
    out.write(scope_text(table))
    per_mole = [COLUMNS[p][2].split(" ")[0] for p in shown_columns(table) if p in PER_MOLE]
    if basis in BASIS_TEXT and per_mole:
        source = {"primcell": "the reference file's primitive_matrix"}.get(basis, "as given")
        names = ", ".join(per_mole[:-1]) + (" and " if len(per_mole) > 1 else "") + per_mole[-1]
        verb = "are" if len(per_mole) > 1 else "is"
        out.write(
            f"{names} {verb} per {BASIS_TEXT[basis].replace('mol ', 'mole of ')} ({source}).\n"
        )
    if any_flagged(table, "n_unstable"):
        out.write(
            "Unstable: the model's phonons have imaginary modes at the supercell's commensurate "
            "points (MDR's rule). phonopy leaves imaginary modes out of Cv, S and F, so an "
            "unstable material's Cv counts its real modes only; it still enters the MAE, as in "
            "the sources' own benchmarks.\n"
        )


def scope_text(table: Table) -> str:
    """The rule behind a set's MAE, and why a model's records on a set give none."""
    lines = [
        f"An MAE under a set's name comes from the whole set or from a random prefix of at least "
        f"{MIN_PREFIX} materials (the first n of its seeded random order); other records show "
        "their coverage and no number."
    ]
    for _, row in table.frame.iterrows():
        for task, subset in table.subsets.items():
            if why := text_of(row, f"{task}.no_mae"):
                lines.append(
                    f"No MAE for {row['model']} on `{subset}` "
                    f"({row[f'{task}.coverage']} run): {why}."
                )
    return " ".join(lines) + "\n"


def _write_provenance(out: io.StringIO, table: Table) -> None:
    """A short pointer: settings digests, how many code commits, where the rest is."""
    used_runs = set(table.records["run_id"]) if "run_id" in table.records else set()
    manifests = [m for m in table.manifests if m.get("run_id") in used_runs]
    if manifests:
        digests = sorted({m["settings_digest"] for m in manifests if m.get("settings_digest")})
        commits = sorted({str(m.get("git_commit"))[:7] for m in manifests})
        shown = ", ".join(commits[:3]) + (", …" if len(commits) > 3 else "")
        out.write(
            f"\nProvenance: settings {', '.join(digests) or '–'}; code at {len(commits)} "
            f"commit{'s' if len(commits) != 1 else ''} ({shown}); every commit, package version "
            "and data checksum in `table2.provenance.json` and the site's provenance page.\n"
        )
