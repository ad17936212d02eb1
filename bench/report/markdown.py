"""Table 2 as markdown: measured [interval] (paper) per cell, counts, timings, protocols,
coverage and provenance."""

from __future__ import annotations

import io

import pandas as pd

from bench.report.metrics import BASIS_TEXT, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, format_mae
from bench.report.table import COLUMNS, Table, column_label, phonon_basis
from bench.run.store import details_of


def frame_markdown(frame: pd.DataFrame) -> str:
    """A DataFrame as a markdown table (cells as text)."""
    head = "| " + " | ".join(map(str, frame.columns)) + " |\n"
    rule = "|---" * len(frame.columns) + "|\n"
    body = "".join(
        "| " + " | ".join(map(str, row)) + " |\n" for row in frame.itertuples(index=False)
    )
    return head + rule + body


def _cell(row: pd.Series, prop: str) -> str:
    mae, paper = row[f"{prop}.mae"], row[f"{prop}.paper"]
    paper_txt = "N/A" if pd.isna(paper) else f"{paper:g}"
    return f"{format_mae(mae, row[f'{prop}.lo'], row[f'{prop}.hi'])} ({paper_txt})"


def _counts(row: pd.Series, task: str, flag: str, flag_label: str) -> str:
    n = max(int(row.get(f"{p}.n", 0)) for p, (t, _, _) in COLUMNS.items() if t == task)
    text = f"{n} ({int(row.get(f'{task}.n_failed', 0))}"
    value = row.get(f"{task}.{flag}")
    if value is not None and pd.notna(value):
        text += f"; {int(value)} {flag_label}"
    text += ")"
    coverage = str(row.get(f"{task}.coverage", ""))  # "773 of 3953": named in the row if partial
    done, _, total = coverage.partition(" of ")
    if done.isdigit() and total.isdigit() and 0 < int(done) < int(total):
        text += f", coverage {coverage}"
    return text


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
    _write_timings(out, table)
    _write_footer(out, table, basis)
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
        split = ", ".join(
            f"{c[5:]} {group[c].median():.1f}" for c in parts if group[c].notna().any()
        )
        if "time.model" in group and group["time.model"].notna().any():
            timed = group[group["time.model"].notna()]  # records made since the clock existed
            share = 100 * timed["time.model"].sum() / timed["wall_s"].sum()
            split += f"; {share:.0f} % of wall time inside the model"
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
            out.write(
                f"- {r['model']} {r['task']}: {r['median_wall_s']:.1f} ({r['split']}); "
                f"total {r['total_wall_h']:.2f} h for {r['n']} materials"
                + (f"; worker peak memory {rss:.1f} GB" if pd.notna(rss) else "")
                + "\n"
            )


def _write_footer(out: io.StringIO, table: Table, basis: str | None) -> None:
    """What a cell means, the subsets with their protocols and coverage, the per-mole basis."""
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


def _write_provenance(out: io.StringIO, table: Table) -> None:
    """Settings digests, code commits, versions and data checksums of the runs in the table."""
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
