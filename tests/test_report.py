"""Reporter on a synthetic store: numbers, counts, settings filter, seed rows, outputs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from bench.datasets import resolve_subset
from bench.report.markdown import intro, to_markdown
from bench.report.selection import expected_digest
from bench.report.table import build_table, column_header, paper_table, shown_columns
from bench.report.write import write_report
from bench.run.store import Store

PROPS = ("omega_max_K", "S_J_per_K_mol", "F_kJ_per_mol", "Cv_J_per_K_mol")


def _record(
    material_id: str, digest: str, status: str = "ok", error: float = 1.0, rss_MB: float = 1024.0
) -> dict:
    ref = {p: 100.0 for p in PROPS}
    values = {p: 100.0 + error for p in PROPS} if status == "ok" else None
    return {
        "model": "chgnet-0.3.0",
        "task": "phonons",
        "dataset": "mdr-pbe",
        "material_id": material_id,
        "settings_digest": digest,
        "status": status,
        "error_type": None if status == "ok" else "NotConvergedError",
        "error_message": None if status == "ok" else "max force 0.01 eV/Å",
        "values": values,
        "ref": ref,
        "details": {"worker_peak_rss_MB": rss_MB},
        "timings_s": {"relax": 2.0, "forces": 1.0},
        "wall_s": 3.0,
    }


def _store(root, complete: bool = True):
    """mdr-smoke: errors 1, 2, 3, 4 (worker peaks 1-4 GB), one not converged, and (complete)
    the last three at error 2.5, so the MAE over the 7 ok stays 2.5."""
    _, ids = resolve_subset("mdr-smoke")
    digest = expected_digest("chgnet", "phonons", "mdr-pbe")
    with Store(root) as store:
        run_id = store.start_run({"settings_digest": digest, "versions": {"ase": "x"}}, {})
        for i, material_id in enumerate(ids[:4]):
            record = _record(material_id, digest, error=float(i + 1), rss_MB=1024.0 * (i + 1))
            store.write(record, run_id)
        store.write(_record(ids[4], digest, status="not_converged"), run_id)
        for material_id in ids[5:] if complete else ():
            store.write(_record(material_id, digest, error=2.5), run_id)
        # same material, other settings: must not enter the table
        store.write(_record(ids[0], "000000000000", error=1000.0), run_id)
    return root


@pytest.fixture
def store_dir(tmp_path):
    return _store(tmp_path)


def test_table_numbers_counts_and_settings_filter(store_dir):
    table = build_table([store_dir])
    row = table.frame.set_index("model").loc["chgnet-0.3.0"]
    assert row["omega_max_K.mae"] == pytest.approx(2.5)  # mean of 1, 2, 3, 4, 2.5 × 3
    assert row["omega_max_K.n"] == 7
    assert row["phonons.n_failed"] == 1
    assert row["phonons.n_missing"] == 0 and row["phonons.mae_from"] == "whole set"
    assert pd.isna(row["omega_max_K.paper"])  # CHGNet is not in Table 2
    assert set(table.records["settings_digest"]) == {
        expected_digest("chgnet", "phonons", "mdr-pbe")
    }


def test_seed_models_not_run_keep_paper_row_and_reason(store_dir):
    frame = build_table([store_dir]).frame.set_index("model")
    orb = frame.loc["orb-v3-direct-20-omat"]
    assert pd.isna(orb["omega_max_K.mae"])
    assert orb["omega_max_K.paper"] == paper_table().loc["orb-v3-direct-20-omat", "omega_max_K"]
    assert orb["not_run"]  # why it did not run here


def test_markdown_and_files(store_dir, tmp_path):
    table = build_table([store_dir])
    md = to_markdown(table)
    line = next(s for s in md.splitlines() if s.startswith("| chgnet-0.3.0 |"))
    assert re.search(r"\| 2\.50 \[\d\.\d\d, \d\.\d\d\] \|", line) and "| 7 (1) |" in line
    assert "(N/A)" not in md and "Code:" not in md  # provenance: a pointer, not 16 hashes
    orb = next(s for s in md.splitlines() if s.startswith("| orb-v3-direct-20-omat |"))
    assert "| – (paper 11) |" in orb  # not run here: the paper's value on its own set
    assert "Cv [J/K per mol primitive cells], MDR |" in md
    assert "`mdr-smoke`" in md and "hand-picked" in intro(table)
    assert "for 8 materials; worker peak memory 4.0 GB" in md
    out = write_report(table, tmp_path / "results", "pytest")
    names = {p.name for p in out}
    assert {"table2.md", "table2.csv", "outliers.csv", "chgnet-0.3.0__omega_max_K.png"} <= names
    worst = pd.read_csv(tmp_path / "results" / "outliers.csv")
    assert worst.iloc[0]["abs_error"] == pytest.approx(4.0)


def test_paper_values_only_on_the_papers_sets(store_dir):
    """On MatCalc's Cv set (not the paper's MDR) no paper value; a column with neither a
    measured nor a paper value (ωmax, S, F there) is left out; headers name set and basis."""
    table = build_table([store_dir], {"phonons": "cv-binary-smoke"})
    orb = table.frame.set_index("model").loc["orb-v3-direct-20-omat"]
    assert pd.isna(orb["Cv_J_per_K_mol.paper"]) and orb["K_GPa.paper"] == 12
    assert shown_columns(table) == ["K_GPa", "G_GPa"]  # no phonon record on the Cv set
    assert column_header(table, "Cv_J_per_K_mol") == "Cv [J/K per mol given cells], MatCalc Cv set"
    md = to_markdown(table)
    assert "ωmax" not in md.splitlines()[0] and "| – (paper 12) |" in md


def test_summary_columns_line_up_when_rows_differ_in_n():
    """Rows of two data sets with different counts: one column per property, n in the cells;
    one shared count: n in the header."""
    from bench.report.metrics import mae_display

    row = {"model": "m", "settings_digest": "d", "n_failed": 0, "V.lo": 0.1}
    table = pd.DataFrame(
        [
            {**row, "dataset": "x", "n": 3, "n_ok": 3, "V": 0.5, "V.hi": 0.9, "n_V": 3},
            {**row, "dataset": "y", "n": 2, "n_ok": 2, "V": 1.5, "V.hi": 2.0, "n_V": 2},
        ]
    )
    both = mae_display(table, ("V",))
    assert list(both.columns[-1:]) == ["V"]
    assert both["V"].tolist() == ["0.50 [0.10, 0.90] (n=3)", "1.50 [0.10, 2.00] (n=2)"]
    one = mae_display(table.iloc[:1], ("V",))
    assert one.columns[-1] == "V (n=3)" and one.iloc[0, -1] == "0.50 [0.10, 0.90]"


def test_parity_limits_keep_the_bulk_and_count_the_rest():
    """Two predictions far off (as CHGNet's −1,000 GPa K) do not set the axes: equal robust
    limits hold the bulk, the two are 'beyond' (drawn at the edge), not-PD flags counted."""
    from bench.report.parity import parity_data

    dft = np.linspace(10, 300, 400)
    rows = pd.DataFrame({"ref.K_GPa": dft, "model.K_GPa": dft + 1.0})
    rows.loc[[5, 9], "model.K_GPa"] = [-1000.0, -1400.0]
    rows["model.positive_definite"] = [i % 4 != 0 for i in range(400)]
    data = parity_data(rows, "K_GPa")
    assert -30 < data.lo < 10 and 300 < data.hi < 330
    assert data.beyond.sum() == 2 and set(np.flatnonzero(data.beyond)) == {5, 9}
    assert data.flagged.sum() == 100 and data.flag_name == "not PD"
    _, y = data.clipped()
    assert y.min() == data.lo  # drawn on the edge


def test_headline_names_set_model_coverage_maes_hours_machine(store_dir):
    from bench.report.headline import headline

    frame = headline(build_table([store_dir]))
    assert len(frame) == 1  # one line per set and model with records, not the paper's rows
    row = frame.iloc[0]
    assert row["set"] == "mdr-smoke" and row["model"] == "chgnet-0.3.0"
    assert row["n (coverage)"] == "7 (8 of 8 run, 1 failed)"
    assert row["ωmax [K]"].startswith("2.50 [")
    assert row["worker-hours"] == f"{8 * 3.0 / 3600:.2f}"


def _failing_store(root, n_ok: int, n_failed: int, timings: dict | None = None):
    """mdr-smoke: ``n_ok`` materials ok (error 1), then ``n_failed`` failed."""
    _, ids = resolve_subset("mdr-smoke")
    digest = expected_digest("chgnet", "phonons", "mdr-pbe")
    with Store(root) as store:
        run_id = store.start_run({"settings_digest": digest, "versions": {"ase": "x"}}, {})
        for i, material_id in enumerate(ids[: n_ok + n_failed]):
            record = _record(material_id, digest, status="ok" if i < n_ok else "failed")
            if timings is not None:
                record["timings_s"] = timings
            store.write(record, run_id)
    return root


def test_an_mae_over_a_minority_of_the_set_says_so_everywhere(tmp_path):
    """2 ok of 8, 6 failed: the MAE is shown, and each of its cells (markdown, headline, site)
    and the terminal summary say it is over 2 of 8 with 6 failed; a majority says nothing."""
    from bench.commands.output import minority_notes
    from bench.report.headline import headline
    from bench.report.metrics import mae_table
    from bench.report.site_index import table2_html

    table = build_table([_failing_store(tmp_path / "few", 2, 6)])
    md = to_markdown(table)
    line = next(s for s in md.splitlines() if s.startswith("| chgnet-0.3.0 |"))
    assert "| 1.00 [1.00, 1.00] (on 2 of 8; 6 failed) |" in line and "| 2 (6) |" in line
    assert headline(table).iloc[0]["ωmax [K]"] == "1.00 [1.00, 1.00] (on 2 of 8; 6 failed)"
    assert str(table2_html(table, {}, "t")).count("on 2 of 8; 6 failed") == len(PROPS)
    notes = minority_notes(mae_table(table.records, PROPS), PROPS)
    assert notes == [
        "note: chgnet-0.3.0 on mdr-pbe: its MAE is over 2 of 8 materials (6 failed), not over "
        "the set"
    ]
    table = build_table([_failing_store(tmp_path / "most", 4, 4)])  # half: no note
    assert "on 4 of 8" not in to_markdown(table)
    assert minority_notes(mae_table(table.records, PROPS), PROPS) == []


def test_the_minority_rule_is_one_rule():
    """Fewer than half: said, failures only when there are some; half or more: nothing."""
    from bench.report.cells import minority_words

    assert minority_words(2, 20, 18) == "on 2 of 20; 18 failed"
    assert minority_words(2, 20, 0) == "on 2 of 20"  # the rest gave no finite value
    assert minority_words(10, 20, 10) == minority_words(0, 20, 20) == ""


def test_records_that_give_no_mae_say_they_failed(tmp_path):
    """2 of 8 recorded, both failed: ``2 of 8 run, 2 failed, no MAE``, not just the coverage."""
    from bench.report.headline import headline

    table = build_table([_failing_store(tmp_path, 0, 2)])
    line = next(s for s in to_markdown(table).splitlines() if s.startswith("| chgnet-0.3.0 |"))
    assert "| – (2 of 8 run, 2 failed, no MAE) |" in line
    assert "| 2 of 8 run, 2 failed, no MAE |" in line
    assert headline(table).iloc[0]["n (coverage)"] == "– (2 of 8 run, 2 failed, no MAE)"
    table = build_table([_failing_store(tmp_path / "ok", 2, 0)])  # none failed: none said
    assert "| – (2 of 8 run, no MAE) |" in to_markdown(table)


def test_wall_time_line_without_a_split(tmp_path):
    """Records with only the model's clock, or no timings: no empty ``(; ...)`` split."""
    timed = build_table([_failing_store(tmp_path / "a", 8, 0, {"model": 0.0, "model_calls": 2})])
    assert "- chgnet-0.3.0 phonons: 3.0 (0 % of wall time inside the model); total" in (
        to_markdown(timed)
    )
    bare = build_table([_failing_store(tmp_path / "b", 8, 0, {})])
    assert "- chgnet-0.3.0 phonons: 3.0; total 0.01 h for 8 materials" in to_markdown(bare)
