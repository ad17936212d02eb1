"""The texts of a Table 2 row's cells that the markdown, the headline and the site share:
counts, records that give no number, an MAE over a minority of its materials."""

from __future__ import annotations

import pandas as pd

from bench.report.table import COLUMNS
from bench.tasks import TASKS


def text_of(row: pd.Series, column: str) -> str:
    """A text column of a row ('' when absent or NaN)."""
    value = row.get(column)
    return value if isinstance(value, str) else ""


def _count(row: pd.Series, column: str) -> int:
    """An integer column of a row (0 when absent or NaN)."""
    value = row.get(column)
    return int(value) if value is not None and pd.notna(value) else 0


def minority_words(n: int, total: int, failed: int) -> str:
    """``on 2 of 20; 18 failed``: a number over ``n`` of ``total`` materials when that is
    fewer than half (the rest failed, or gave no finite value), which a bare number beside a
    whole set's would hide; '' otherwise."""
    if n == 0 or 2 * n >= total:
        return ""
    return f"on {n} of {total}" + (f"; {failed} failed" if failed else "")


def minority_text(row: pd.Series, prop: str) -> str:
    """:func:`minority_words` of a Table 2 row's MAE of ``prop``."""
    task = COLUMNS[prop][0]
    n, scored = _count(row, f"{prop}.n"), _count(row, f"{task}.n_scored")
    return minority_words(n, scored, _count(row, f"{task}.n_failed"))


def mae_notes(row: pd.Series, prop: str) -> list[str]:
    """What an MAE cell says beside its number, the paper's value aside: records that give no
    number (:func:`no_mae_text`), else a random prefix and a minority (:func:`minority_text`)."""
    task = COLUMNS[prop][0] if prop in COLUMNS else ""
    if not task:
        return []
    if text_of(row, f"{task}.no_mae"):
        return [no_mae_text(row, task)]
    source = text_of(row, f"{task}.mae_from")
    prefix = [source] if source.startswith("random prefix") else []
    return [*prefix, *filter(None, [minority_text(row, prop)])]


def no_mae_text(row: pd.Series, task: str) -> str:
    """``2 of 20 run, no MAE``; ``2 of 20 run, 2 failed, no MAE`` (the records give no number,
    :mod:`bench.report.scope`; their failures named, not hidden behind the coverage)."""
    failed = _count(row, f"{task}.n_failed")
    return f"{row[f'{task}.coverage']} run, " + (f"{failed} failed, " if failed else "") + "no MAE"


def counts_text(row: pd.Series, task: str, flag: str) -> str:
    """``3942 (11; 398)``: materials with a value (failed; flagged), then the coverage when
    partial; ``no records`` when the model has no record of the task on the set."""
    n = max(int(row.get(f"{p}.n", 0) or 0) for p, (t, _, _) in COLUMNS.items() if t == task)
    failed = int(row.get(f"{task}.n_failed", 0) or 0)
    coverage = str(row.get(f"{task}.coverage", ""))  # "773 of 3953": named in the row if partial
    if text_of(row, f"{task}.no_mae"):
        return no_mae_text(row, task)
    if n == 0 and failed == 0:
        return "no records"
    value = row.get(f"{task}.{flag}")
    flagged = f"; {int(value)}" if value is not None and pd.notna(value) else ""
    text = f"{n} ({failed}{flagged})"
    done, _, total = coverage.partition(" of ")
    if done.isdigit() and total.isdigit() and 0 < int(done) < int(total):
        text += f", {done} of {total} run"
    return text


#: task -> (flag count column, its name in the "n (failed; flagged)" header), from the registry
TASK_FLAGS = {t.name: t.count_flag for t in TASKS.values() if t.count_flag}
