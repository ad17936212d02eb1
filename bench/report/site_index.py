"""Site pages about the whole table: Table 2 of one section (its set, size, coverage and
protocol; the phonon metrics beyond it), the failures list and the provenance (settings,
versions, checksums, commits). Every text goes through the templates (autoescape)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import pandas as pd
from markupsafe import Markup

from bench.models.registry import label_spec
from bench.names import safe_name
from bench.protocols import effective_settings
from bench.report.cells import TASK_FLAGS, counts_text, mae_notes, text_of
from bench.report.html import Cell, Header, cell, details, heading, number, page, paragraph, table
from bench.report.markdown import measured_tasks
from bench.report.metrics import format_mae
from bench.report.phonon_metrics import BAND_RMSE, BAND_RMSE_LABEL, CONFUSION, EXTRA_MAE
from bench.report.table import COLUMNS, Table, column_header, shown_columns
from bench.report.templates import join
from bench.settings import settings_dict, settings_digest


def parity_name(model: str, prop: str) -> str:
    """Relative path of a parity page from the site root (names made safe: a label from a
    record never leaves the site folder, bench.names.safe_name)."""
    return f"parity/{safe_name(model)}__{safe_name(prop)}.html"


def material_name(dataset: str, material_id: str) -> str:
    """Relative path of a material page from the site root (names made safe)."""
    return f"materials/{safe_name(dataset)}/{safe_name(material_id)}.html"


def _value(row: pd.Series, key: str) -> float:
    value = row.get(key)
    return float(value) if value is not None and pd.notna(value) else float("nan")


def _mae_cell(row: pd.Series, prop: str, link: str | None, stat: str = "mae") -> Cell:
    """MAE [interval], linking to its parity plot; below it a random prefix's coverage, an
    MAE over a minority of its materials (``on 2 of 20; 18 failed``) and the paper's value
    where it has one. Records that give no number show their coverage, the reason in the
    tooltip (:mod:`bench.report.scope`)."""
    mae = _value(row, f"{prop}.{stat}")
    paper = _value(row, f"{prop}.paper")
    task = COLUMNS[prop][0] if prop in COLUMNS else ""
    why = text_of(row, f"{task}.no_mae")
    subs = mae_notes(row, prop) + ([f"paper {number(paper)}"] if paper == paper else [])
    return cell(
        format_mae(mae, _value(row, f"{prop}.lo"), _value(row, f"{prop}.hi")),
        sort=mae if mae == mae else "",
        cls="num",
        href=link or "",
        sub="; ".join(subs),
        title=f"no MAE: {why}" if why else "",
    )


def _counts_cell(row: pd.Series, task: str) -> Cell:
    """``n (failed; flagged)`` in one cell, the coverage in its tooltip."""
    text_ = counts_text(row, task, TASK_FLAGS[task][0])
    coverage = str(row.get(f"{task}.coverage", ""))
    n = text_.split(" ")[0]
    return cell(text_, sort=n if n.isdigit() else "", cls="num", title=f"coverage {coverage}")


def _note_cell(row: pd.Series) -> Cell:
    """``not run here`` (why, in the tooltip) or ``no records``."""
    reason = text_of(row, "not_run")
    if reason:
        return cell("not run here", cls="note", title=reason)
    if text_of(row, "note"):
        return cell("no records", cls="note", title="it runs here; no records on these sets")
    return cell("", cls="note")


def table2_html(table_: Table, links: dict[tuple[str, str], str], table_id: str) -> Markup:
    """Table 2 of a section: measured [95 % interval] with the paper's value, one
    "n (failed; flagged)" cell per task; each measured cell links to its parity plot."""
    shown = shown_columns(table_)
    tasks = measured_tasks(table_)
    headers = [Header("model"), *(Header(column_header(table_, p)) for p in shown)]
    for task in tasks:
        flag = TASK_FLAGS[task][1]
        tip = f"materials with a value (failed; {flag}); the coverage in each cell's tooltip"
        headers.append(Header(f"{task} n (failed; {flag})", tip))
    headers.append(Header("note", "why a model has no numbers (hover a cell)"))
    frame = table_.frame
    ran = frame["note"].fillna("") == "" if "note" in frame else pd.Series(True, frame.index)
    rows = []
    for _, row in pd.concat([frame[ran], frame[~ran]]).iterrows():  # models that ran first
        trained = f" ({row['training']})" if row.get("training") else ""  # ml-peg metadata
        cells = [cell(f"{row['model']}{trained}")]
        cells += [_mae_cell(row, p, links.get((row["model"], p))) for p in shown]
        cells += [_counts_cell(row, t) for t in tasks]
        rows.append([*cells, _note_cell(row)])
    return table(headers, rows, table_id=table_id, classes="wide")


def extras_html(table_: Table, links: dict[tuple[str, str], str], table_id: str) -> Markup:
    """ωmin and ω_avg MAE, mean band RMSE and the stability confusion matrix, per model."""
    frame = table_.frame
    if "stability.n" not in frame:
        return paragraph("No phonon records with these values.")
    frame = frame[frame["stability.n"].fillna(0) > 0]
    headers = ["model", *EXTRA_MAE.values(), BAND_RMSE_LABEL, "n"]
    headers += [name.replace("_", " ") for name in CONFUSION] + ["accuracy"]
    rows = []
    for _, row in frame.iterrows():
        cells = [cell(row["model"])]
        cells += [_mae_cell(row, p, links.get((row["model"], p))) for p in EXTRA_MAE]
        cells.append(_mae_cell(row, BAND_RMSE, links.get((row["model"], BAND_RMSE)), "mean"))
        cells.append(cell(int(row["stability.n"]), int(row["stability.n"]), "num"))
        for name in CONFUSION:
            count = int(row[f"stability.{name}"])
            cells.append(cell(count, count, "num"))
        accuracy = _value(row, "stability.accuracy")
        cells.append(cell(f"{accuracy:.0%}" if accuracy == accuracy else "–", accuracy, "num"))
        rows.append(cells)
    return table(headers, rows, table_id=table_id)


EXTRAS_TEXT = (
    "MAE of ωmin (commensurate points) and of ω_avg (mean frequency over the length-100 "
    "q-mesh), the mean over materials of the RMSE of the band frequencies against DFT over "
    "that mesh (K), and dynamical stability by MDR's rule, model vs DFT (e.g. model stable "
    "dft unstable: the model calls stable a material DFT calls unstable), with the share "
    "where they agree."
)


def extras_section(table_: Table, links: dict[tuple[str, str], str], key: str) -> Markup:
    """The phonon metrics beyond Table 2, when the section has them."""
    frame = table_.frame
    if "stability.n" not in frame or not (frame["stability.n"].fillna(0) > 0).any():
        return join([])
    return join(
        [
            heading(3, "Phonons beyond Table 2"),
            paragraph(EXTRAS_TEXT),
            extras_html(table_, links, f"phonon-extras-{key}"),
        ]
    )


def failures_page(records: pd.DataFrame, pages: set[str]) -> str:
    """Every recorded failure among the site's records, with its reason."""
    bad = records[records["status"] != "ok"] if len(records) else records
    rows = []
    for _, r in bad.iterrows():
        link = material_name(r["dataset"], r["material_id"])
        rows.append(
            [
                cell(r["model"]),
                cell(r["task"]),
                cell(r["dataset"]),
                cell(r["material_id"], href=link if link in pages else ""),
                cell(r["status"], cls="fail"),
                cell(r.get("error_type")),
                cell(r.get("error_message")),
            ]
        )
    headers = ["model", "task", "data set", "material", "status", "error", "reason"]
    body = join([paragraph(f"{len(rows)} failures."), table(headers, rows, table_id="failures")])
    return page("Failures", body)


def _settings(records: pd.DataFrame, manifests: Sequence[dict] = ()) -> dict[str, dict]:
    """Settings digest -> the default settings it hashes, for the records' groups (with the
    dtype a run resolved a factory's own precision to, :func:`bench.run.precheck.resolved_dtype`,
    from the ``manifests``)."""
    out: dict[str, dict] = {}
    if records.empty:
        return out
    resolved = {
        m.get("settings_digest"): m.get("dtype") for m in manifests if m.get("dtype_requested")
    }
    for model, task, dataset, digest in (
        records[["model", "task", "dataset", "settings_digest"]].drop_duplicates().to_numpy()
    ):
        settings = effective_settings(label_spec(model), task, dataset)
        if resolved.get(digest) and settings_digest(settings) != digest:
            settings = dataclasses.replace(settings, dtype=resolved[digest])
        out[digest] = {"model": model, "task": task, "dataset": dataset, **settings_dict(settings)}
    return out


def provenance_page(records: pd.DataFrame, manifests: list[dict], command: str) -> str:
    """Settings of each digest, versions, data checksums, commits and machines of the runs."""
    used = set(records["run_id"]) if "run_id" in records else set()
    manifests = [m for m in manifests if m.get("run_id") in used]
    checksums: dict[str, str] = {}
    for m in manifests:
        checksums.update(m.get("data_checksums") or {})
    runs = []
    for m in manifests:
        versions = m.get("versions") or {}
        listed = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
        runs.append(
            [
                cell(m.get("run_id")),
                cell(m.get("started_at")),
                cell(m.get("model")),
                cell(m.get("task")),
                cell(m.get("settings_digest"), code=True),
                cell(m.get("git_commit"), code=True),
                cell((m.get("checkpoint_sha256") or "–")[:16]),
                cell("", html=details(f"{len(versions)} packages", listed)),
                cell((m.get("machine") or {}).get("cpu")),
            ]
        )
    heads = ["run", "started", "model", "task", "settings", "commit", "checkpoint sha256"]
    parts = [paragraph("Site made by: ", (command, "code"), "."), heading(2, "Runs")]
    parts.append(table([*heads, "versions", "cpu"], runs, table_id="runs"))
    parts.append(heading(2, "Settings"))
    for digest, settings in sorted(_settings(records, manifests).items()):
        parts += [heading(3, digest), details("settings", json.dumps(settings, indent=1), True)]
    files = [[cell(k, code=True), cell(v)] for k, v in sorted(checksums.items())]
    parts += [heading(2, "Data files (sha256)"), table(["file", "sha256"], files, table_id="data")]
    return page("Provenance", join(parts))
