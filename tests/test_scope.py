"""A set's MAE only from the set: the whole set, or a random prefix of at least 30 of its
seeded order ("random prefix, n of N"); otherwise the coverage and no number, in the table,
the terminal and the site; hand-picked materials only under their own subset. "Not run
here" only for a model that cannot run here (with why); "no records" otherwise."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from bench.datasets import resolve_subset
from bench.report.scope import MIN_PREFIX, ORDER_SLACK, mae_scope
from bench.report.selection import expected_digest
from bench.report.table import build_table
from bench.run.store import Store

DATASET = "mp-binary-pbe-elasticity-2025.1"


def test_scope_of_every_kind():
    ids = [f"mp-{i}" for i in range(100)]
    assert mae_scope("elastic-full", ids, ids).kind == "whole"
    prefix = mae_scope("elastic-full", ids, [*ids[:40], "mp-77"])
    assert prefix.kind == "prefix" and prefix.label == "random prefix, 40 of 100"
    assert prefix.coverage == "41 of 100"  # mp-77 recorded, but not in the number
    short = mae_scope("elastic-full", ids, ids[: MIN_PREFIX - 1])
    assert short.kind == "coverage" and short.in_order and "under 30" in short.reason
    gaps = mae_scope("elastic-full", ids, [*ids[:10], *ids[12:20], "mp-40"])  # a stopped run
    assert gaps.kind == "coverage" and gaps.in_order
    picked = mae_scope("elastic-full", ids, ["mp-3", "mp-50", "mp-90"])
    assert picked.kind == "coverage" and not picked.in_order and "not a prefix" in picked.reason
    other = mae_scope("mdr-50", ids, ids[:60])  # not a seeded order: a prefix is no sample
    assert other.kind == "coverage" and "not random" in other.reason
    assert mae_scope("mdr-50", ids, ()).kind == "none"
    assert mae_scope("mdr-smoke", ids[:8], ids[:8]).kind == "whole"  # a picked set, whole


def _record(material_id: str, digest: str, error: float = 2.0) -> dict:
    return {
        "model": "chgnet-0.3.0",
        "task": "elasticity",
        "dataset": DATASET,
        "material_id": material_id,
        "settings_digest": digest,
        "status": "ok",
        "values": {"K_GPa": 100.0 + error, "G_GPa": 50.0 + error, "positive_definite": True},
        "ref": {"K_GPa": 100.0, "G_GPa": 50.0},
        "details": {},
        "timings_s": {"relax": 1.0},
        "wall_s": 1.0,
    }


def _store(root, ids) -> str:
    digest = expected_digest("chgnet", "elasticity", DATASET)
    with Store(root) as store:
        run_id = store.start_run({"settings_digest": digest}, {})
        for material_id in ids:
            store.write(_record(material_id, digest), run_id)
    return str(root)


def test_smoke_materials_give_no_elastic_full_mae(tmp_path, capsys, shared_data):
    """3 elastic-smoke materials: `bench table --elastic-subset elastic-full` gives no K or G
    MAE (the coverage and why); the site shows them in the smoke section only."""
    from bench.cli import main
    from bench.report.site import build_site

    _, smoke = resolve_subset("elastic-smoke")
    _, full = resolve_subset("elastic-full", shared_data)
    assert not set(smoke[:3]) & set(full[: 3 + ORDER_SLACK])  # not a stopped run's records
    runs = _store(tmp_path / "runs", smoke[:3])
    out = tmp_path / "table"
    args = ["table", "--runs", runs, "--out", str(out), "--elastic-subset", "elastic-full"]
    assert main([*args, "--quiet", "--data-dir", str(shared_data)]) == 0
    printed = capsys.readouterr().out
    line = next(s for s in printed.splitlines() if s.startswith("| chgnet-0.3.0 |"))
    assert "2.00" not in line and line.count("– (3 of 3953 run, no MAE)") == 2
    assert "No MAE for chgnet-0.3.0 on `elastic-full` (3 of 3953 run): not a prefix" in printed
    csv = pd.read_csv(out / "table2.csv").set_index("model").loc["chgnet-0.3.0"]
    assert pd.isna(csv["K_GPa.mae"]) and csv["elasticity.coverage"] == "3 of 3953"
    assert pd.read_csv(out / "paired.csv").empty
    site = tmp_path / "site"
    build_site([tmp_path / "runs"], site, data_dir=shared_data)
    html = (site / "index.html").read_text()
    assert re.findall(r'id="table2-(\w+)"', html) == ["smoke"]  # not under elastic-full
    assert not (site / "parity" / "full").exists()


def test_a_random_prefix_says_so_and_a_short_one_gives_none(tmp_path, shared_data):
    """The first 40 of elastic-full: an MAE, "random prefix, 40 of 3953"; the first 20: the
    coverage only, and the site keeps the run (in progress) in the full section."""
    from bench.report.markdown import to_markdown
    from bench.report.site import build_site

    _, full = resolve_subset("elastic-full", shared_data)
    table = build_table([_store(tmp_path / "a", full[:40])], {"elasticity": "elastic-full"})
    row = table.frame.set_index("model").loc["chgnet-0.3.0"]
    assert row["K_GPa.mae"] == pytest.approx(2.0) and row["K_GPa.n"] == 40
    assert "2.00 [2.00, 2.00] (random prefix, 40 of 3953; paper" not in to_markdown(table)
    line = next(s for s in to_markdown(table).splitlines() if s.startswith("| chgnet-0.3.0"))
    assert "2.00 [2.00, 2.00] (random prefix, 40 of 3953)" in line
    short = build_table([_store(tmp_path / "b", full[:20])], {"elasticity": "elastic-full"})
    row = short.frame.set_index("model").loc["chgnet-0.3.0"]
    assert pd.isna(row["K_GPa.mae"]) and "under 30" in row["elasticity.no_mae"]
    site = tmp_path / "site"
    build_site([tmp_path / "b"], site, data_dir=shared_data)
    html = (site / "index.html").read_text()
    body = re.search(r'<table id="table2-full".*?</table>', html, re.S).group(0)
    assert "20 of 3953 run, no MAE" in body and "under 30" in body


def test_not_run_here_only_when_the_model_cannot_run(tmp_path, monkeypatch):
    """A seed model without records: "not run here: why" when it cannot run here, "no
    records" when it can."""
    import bench.report.table as table_module

    runs = _store(tmp_path / "runs", resolve_subset("elastic-smoke")[1])
    monkeypatch.setattr(table_module, "cannot_run_reason", lambda spec: None)
    frame = build_table([runs]).frame.set_index("model")
    assert frame.loc["mace-mpa-0", "note"] == "no records"
    assert frame.loc["chgnet-0.3.0", "note"] == ""
    monkeypatch.setattr(table_module, "cannot_run_reason", lambda spec: "mace is not here")
    frame = build_table([runs]).frame.set_index("model")
    assert frame.loc["mace-mpa-0", "note"] == "not run here: mace is not here"


def test_the_mdr_section_says_what_the_50_are(tmp_path, shared_data):
    """The site's MDR section: mdr-50 alone (no elastic column), the paper's rows beside the
    model's whole-set MAE, what the 50 are and that MDR's full set is ~10,000 online."""
    from markupsafe import Markup

    from bench.report.site import SECTIONS
    from bench.report.site_index import table2_html
    from bench.report.site_sections import section_intro

    subsets = next(pair for key, _, pair in SECTIONS if key == "mdr")
    assert subsets == {"phonons": "mdr-50"}
    _, ids = resolve_subset("mdr-50", shared_data)
    digest = expected_digest("chgnet", "phonons", "mdr-pbe")
    props = ("omega_max_K", "S_J_per_K_mol", "F_kJ_per_mol", "Cv_J_per_K_mol")
    with Store(tmp_path / "runs") as store:
        run_id = store.start_run({"settings_digest": digest}, {})
        for material_id in ids:
            record = {**_record(material_id, digest), "task": "phonons", "dataset": "mdr-pbe"}
            record.update(values={p: 11.0 for p in props}, ref={p: 10.0 for p in props})
            store.write(record, run_id)
    table = build_table([tmp_path / "runs"], {"phonons": "mdr-50", "elasticity": None}, shared_data)
    assert list(table.subsets) == ["phonons"]
    intro = str(Markup("").join(section_intro(table)))
    assert "benchmark_app" in intro and "about 10,000 materials online" in intro
    html = str(table2_html(table, {}, "t"))
    assert "K [GPa]" not in html and "paper 31" in html  # MACE-MPA-0's ωmax beside chgnet's
    row = table.frame.set_index("model").loc["chgnet-0.3.0"]
    assert row["omega_max_K.mae"] == pytest.approx(1.0) and row["phonons.mae_from"] == "whole set"
