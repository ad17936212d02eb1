"""Site pages about the whole table: the index (Table 2, the phonon metrics beyond it), the
failures list and the provenance (settings, versions, checksums, commits)."""

from __future__ import annotations

import json

import pandas as pd

from bench.models import resolve
from bench.names import safe_name
from bench.protocols import effective_settings
from bench.report.html import cell, esc, number, page, table
from bench.report.metrics import format_mae
from bench.report.phonon_metrics import BAND_RMSE, BAND_RMSE_LABEL, CONFUSION, EXTRA_MAE
from bench.report.table import COLUMNS, Table, column_label, phonon_basis
from bench.settings import settings_dict

TASK_COUNTS = {"phonons": ("n_unstable", "unstable"), "elasticity": ("n_not_pd", "not PD")}


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


def _mae_cell(row: pd.Series, prop: str, parity: set[str], stat: str = "mae") -> str:
    mae = _value(row, f"{prop}.{stat}")
    text = esc(format_mae(mae, _value(row, f"{prop}.lo"), _value(row, f"{prop}.hi")))
    link = parity_name(row["model"], prop)
    if link in parity:
        text = f'<a href="{link}">{text}</a>'
    if f"{prop}.paper" in row:
        paper = number(_value(row, f"{prop}.paper")).replace("–", "N/A")
        text += f'<span class="paper">paper {esc(paper)}</span>'
    return cell(text, sort=mae if mae == mae else "", cls="num")


def _task_cells(row: pd.Series, task: str) -> list[str]:
    props = [p for p, (t, _, _) in COLUMNS.items() if t == task]
    n = max(int(row.get(f"{p}.n", 0) or 0) for p in props)
    failed = int(row.get(f"{task}.n_failed", 0) or 0)
    flag, _ = TASK_COUNTS.get(task, ("", ""))
    flagged = row.get(f"{task}.{flag}")
    flagged_text = str(int(flagged)) if flagged is not None and pd.notna(flagged) else "–"
    coverage = str(row.get(f"{task}.coverage", "–"))
    return [
        cell(str(n), n, "num"),
        cell(str(failed), failed, "num fail" if failed else "num"),
        cell(flagged_text, flagged_text if flagged_text != "–" else "", "num"),
        cell(esc(coverage), coverage.split(" ")[0] if coverage[:1].isdigit() else ""),
    ]


def table2_html(table_: Table, parity: set[str]) -> str:
    """Table 2: measured [95 % interval] with the paper's value, counts and coverage per task;
    each measured cell links to its parity plot."""
    basis = phonon_basis(table_)
    headers = ["model", *(column_label(p, basis) for p in COLUMNS)]
    for task, (_, flag_label) in TASK_COUNTS.items():
        headers += [f"{task} n", f"{task} failed", f"{task} {flag_label}", f"{task} coverage"]
    headers.append("note")
    rows = []
    frame = table_.frame
    ran = frame["not_run"].fillna("") == "" if "not_run" in frame else pd.Series(True, frame.index)
    for _, row in pd.concat([frame[ran], frame[~ran]]).iterrows():  # models that ran first
        cells = [cell(esc(row["model"]))]
        cells += [_mae_cell(row, p, parity) for p in COLUMNS]
        for task in TASK_COUNTS:
            cells += _task_cells(row, task)
        reason = row.get("not_run") or ""
        note = f"<details><summary>not run here</summary>{esc(reason)}</details>" if reason else ""
        cells.append(cell(f'<span class="note">{note}</span>'))
        rows.append(cells)
    return table(headers, rows, table_id="table2")


def extras_html(table_: Table, parity: set[str]) -> str:
    """ωmin and ω_avg MAE, mean band RMSE and the stability confusion matrix, per model."""
    frame = table_.frame
    if "stability.n" not in frame:
        return "<p>No phonon records with these values.</p>"
    frame = frame[frame["stability.n"].fillna(0) > 0]
    headers = ["model", *EXTRA_MAE.values(), BAND_RMSE_LABEL, "n"]
    headers += [name.replace("_", " ") for name in CONFUSION] + ["accuracy"]
    rows = []
    for _, row in frame.iterrows():
        cells = [cell(esc(row["model"]))]
        cells += [_mae_cell(row, p, parity) for p in EXTRA_MAE]
        cells.append(_mae_cell(row, BAND_RMSE, parity, stat="mean"))
        cells.append(cell(str(int(row["stability.n"])), int(row["stability.n"]), "num"))
        for name in CONFUSION:
            count = int(row[f"stability.{name}"])
            cells.append(cell(str(count), count, "num"))
        accuracy = _value(row, "stability.accuracy")
        cells.append(cell(esc(f"{accuracy:.0%}" if accuracy == accuracy else "–"), accuracy, "num"))
        rows.append(cells)
    return table(headers, rows, table_id="phonon-extras")


def index_page(table_: Table, parity: set[str], command: str) -> str:
    subsets = ", ".join(f"{t}: <code>{esc(s)}</code>" for t, s in table_.subsets.items())
    body = (
        f"<p>Made by: <code>{esc(command)}</code>. Subsets: {subsets}. Cells: MAE against DFT "
        "[95 % bootstrap interval over materials] with the Orb-v3 paper's value below; click "
        "a header to sort, a value for its parity plot. Only records made with each model's "
        "default settings count.</p>"
        + table2_html(table_, parity)
        + "<h2>Phonons beyond Table 2</h2><p>MAE of ωmin (commensurate points) and of ω_avg "
        "(mean frequency over the length-100 q-mesh), the mean over materials of the RMSE of "
        "the band frequencies against DFT over that mesh (K), and dynamical stability by MDR's "
        "rule, model vs DFT (e.g. <i>model stable dft unstable</i>: the model calls stable a "
        "material DFT calls unstable), with the share where they agree.</p>"
        + extras_html(table_, parity)
    )
    return page("Orb-v3 Table 2, reproduced", body)


def failures_page(table_: Table) -> str:
    """Every recorded failure among the records in the table, with its reason."""
    records = table_.records
    bad = records[records["status"] != "ok"] if len(records) else records
    rows = []
    for _, r in bad.iterrows():
        link = material_name(r["dataset"], r["material_id"])
        rows.append(
            [
                cell(esc(r["model"])),
                cell(esc(r["task"])),
                cell(f'<a href="{link}">{esc(r["material_id"])}</a>'),
                cell(esc(r["status"]), cls="fail"),
                cell(esc(r.get("error_type"))),
                cell(esc(r.get("error_message"))),
            ]
        )
    headers = ["model", "task", "material", "status", "error", "reason"]
    body = f"<p>{len(rows)} failures.</p>" + table(headers, rows, table_id="failures")
    return page("Failures", body)


def _settings(records: pd.DataFrame) -> dict[str, dict]:
    """Settings digest -> the default settings it hashes, for the records' groups."""
    out = {}
    if records.empty:
        return out
    for model, task, dataset, digest in (
        records[["model", "task", "dataset", "settings_digest"]].drop_duplicates().to_numpy()
    ):
        settings = effective_settings(resolve(model.split("@")[0]).key, task, dataset)
        out[digest] = {"model": model, "task": task, "dataset": dataset, **settings_dict(settings)}
    return out


def _versions(versions: dict[str, str]) -> str:
    text = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    return f"<details><summary>{len(versions)} packages</summary>{esc(text)}</details>"


def provenance_page(table_: Table, command: str) -> str:
    """Settings of each digest, versions, data checksums, commits and machines of the runs."""
    used = set(table_.records["run_id"]) if "run_id" in table_.records else set()
    manifests = [m for m in table_.manifests if m.get("run_id") in used]
    checksums: dict[str, str] = {}
    for m in manifests:
        checksums.update(m.get("data_checksums") or {})
    runs = [
        [
            cell(esc(m.get("run_id"))),
            cell(esc(m.get("started_at"))),
            cell(esc(m.get("model"))),
            cell(esc(m.get("task"))),
            cell(f"<code>{esc(m.get('settings_digest'))}</code>"),
            cell(f"<code>{esc(m.get('git_commit'))}</code>"),
            cell(esc((m.get("checkpoint_sha256") or "–")[:16])),
            cell(_versions(m.get("versions") or {})),
            cell(esc((m.get("machine") or {}).get("cpu"))),
        ]
        for m in manifests
    ]
    heads = ["run", "started", "model", "task", "settings", "commit", "checkpoint sha256"]
    body = f"<p>Site made by: <code>{esc(command)}</code>.</p><h2>Runs</h2>"
    body += table([*heads, "versions", "cpu"], runs, table_id="runs")
    body += "<h2>Settings</h2>"
    for digest, settings in sorted(_settings(table_.records).items()):
        text = esc(json.dumps(settings, indent=1))
        body += f"<h3><code>{esc(digest)}</code></h3><pre>{text}</pre>"
    files = [[cell(f"<code>{esc(k)}</code>"), cell(esc(v))] for k, v in sorted(checksums.items())]
    body += "<h2>Data files (sha256)</h2>" + table(["file", "sha256"], files, table_id="data")
    return page("Provenance", body)
