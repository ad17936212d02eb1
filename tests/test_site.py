"""`bench report`: the static site of a store with kept force constants (files, links, rows,
no network), on two real MDR materials whose "model" force constants are DFT's, scaled."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

from bench.datasets import load_phonon_reference, resolve_subset
from bench.physics.kept_fc import fc_payload
from bench.report.selection import expected_digest
from bench.report.site import build_site
from bench.report.table import build_table
from bench.run.store import Store

MODEL = "chgnet-0.3.0"
PROPS = ("omega_max_K", "S_J_per_K_mol", "F_kJ_per_mol", "Cv_J_per_K_mol")
#: the materials with records: two ok (bands kept), one failure
OK_IDS, FAILED_ID = ("mp-111", "mp-1000"), "mp-11327"


def _record(material_id: str, digest: str, shared_data: Path, scale: float) -> dict:
    ref = load_phonon_reference("mdr-pbe", material_id, shared_data).phonopy
    ref.force_constants = ref.force_constants * scale**2  # every frequency × scale
    values = {p: 100.0 * scale for p in PROPS}
    dft = {p: 100.0 for p in PROPS}
    return {
        "model": MODEL,
        "task": "phonons",
        "dataset": "mdr-pbe",
        "material_id": material_id,
        "settings_digest": digest,
        "status": "ok",
        "values": {**values, "omega_min_K": 0.0, "stable": True, "band_rmse_K": 5.0},
        "ref": {**dft, "omega_min_K": 0.0, "stable": True},
        "details": {"relax": {"steps": 3}, "n_displacements": 1, "n_atoms_supercell": 64},
        "timings_s": {"relax": 1.0, "forces": 2.0},
        "wall_s": 3.0,
        "artifacts": {"force_constants": fc_payload(ref)},
    }


def make_store(root: Path, shared_data: Path) -> Path:
    """A store of the whole of mdr-smoke: two ok phonon records with kept force constants,
    six failures."""
    digest = expected_digest("chgnet", "phonons", "mdr-pbe")
    _, ids = resolve_subset("mdr-smoke", shared_data)
    assert set(OK_IDS) | {FAILED_ID} <= set(ids)
    with Store(root) as store:
        run_id = store.start_run(
            {"settings_digest": digest, "run_id": "x", "git_commit": "abc", "versions": {}}, {}
        )
        for i, material_id in enumerate(OK_IDS):
            store.write(_record(material_id, digest, shared_data, 1.1 + 0.1 * i), run_id)
        failure = {
            **_record(FAILED_ID, digest, shared_data, 1.0),
            "status": "failed",
            "error_type": "NotConvergedError",
            "error_message": "max force 0.3 eV/Å after 15 passes",
            "values": None,
        }
        failure.pop("artifacts")
        store.write(failure, run_id)
        for material_id in sorted(set(ids) - set(OK_IDS) - {FAILED_ID}):  # the whole subset
            store.write({**failure, "material_id": material_id}, run_id)
    return root


@pytest.fixture(scope="module")
def runs(shared_data, tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("runs"), shared_data)


@pytest.fixture(scope="module")
def site(shared_data, runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build_site([runs], out, data_dir=shared_data, command="pytest")
    return out


def test_index_has_one_row_per_model_and_links_to_parity(site, shared_data):
    html = (site / "index.html").read_text()
    # mdr-50 holds the smoke materials, but they are not mdr-50's: the smoke section only
    assert re.findall(r'id="table2-(\w+)"', html) == ["smoke"]
    body = re.search(r'<table id="table2-smoke".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    assert body.count("<tr>") == 1  # beside picked subsets only the models measured here
    for prop in PROPS:
        assert f'href="parity/smoke/{MODEL}__{prop}.html"' in html
        assert (site / "parity" / "smoke" / f"{MODEL}__{prop}.html").is_file()
    assert 'id="phonon-extras-smoke"' in html and "100%" in html  # stability: 2 of 2 agree
    assert "hand-picked" in html and "measured here beside the paper" in html
    assert "2 (6; 0)" in html  # n (failed; unstable) in one cell


def test_parity_page_has_the_points_with_material_and_link(site):
    html = (site / "parity" / "smoke" / f"{MODEL}__omega_max_K.html").read_text()
    assert '<script src="../../assets/plotly.min.js">' in html
    customdata = json.loads(re.search(r'"customdata":(\[\[.*?\]\])', html).group(1))
    assert sorted(c[:3] for c in customdata) == [
        [i, formula, f"../../materials/mdr-pbe/{i}.html#{MODEL}"]
        for i, formula in sorted(zip(OK_IDS, ("Ne4", "Ba4Te4"), strict=True))
    ]
    assert "n = 2, MAE" in html  # n, MAE and interval in the title
    assert "plotly_click" in html


def test_material_page_has_dft_and_model_bands(site):
    html = (site / "materials" / "mdr-pbe" / "mp-1000.html").read_text()
    start = re.search(r'Plotly\.newPlot\(\s*"bands",\s*', html).end()
    figure, _ = json.JSONDecoder().raw_decode(html, start)  # the traces
    names = [trace["name"] for trace in figure if trace.get("showlegend", True) is not False]
    assert names == ["DFT", MODEL]
    assert "Fm-3m" in html and "Ba4Te4" in html  # structure summary (spglib)
    failed = (site / "materials" / "mdr-pbe" / f"{FAILED_ID}.html").read_text()
    assert "NotConvergedError" in failed and "No force constants for" not in failed
    assert "no band structure is drawn" in failed  # DFT's bands alone: not drawn (size budget)
    assert not re.search(r'Plotly\.newPlot\(\s*"bands"', failed)


def test_failures_provenance_and_offline(site):
    failures = (site / "failures.html").read_text()
    assert FAILED_ID in failures and "max force 0.3" in failures
    provenance = (site / "provenance.html").read_text()
    assert expected_digest("chgnet", "phonons", "mdr-pbe") in provenance
    assert (site / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    for page in site.rglob("*.html"):  # nothing from the network
        assert not re.search(r"<script[^>]+src=\"(https?:)?//", page.read_text()), page


def test_bench_report_command(shared_data, runs, tmp_path, capsys):
    from bench.cli import main

    out = tmp_path / "site"
    args = ["report", "--runs", str(runs), "--out", str(out), "--data-dir", str(shared_data)]
    assert main(args) == 0
    assert (out / "index.html").is_file() and (out / "materials" / "mdr-pbe").is_dir()
    assert f"open {out / 'index.html'}" in capsys.readouterr().out
    assert main(["report", "--runs", str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert "no results in" in capsys.readouterr().err


EVIL_MODEL = 'chgnet-0.3.0@"><img src=x onerror=alert(1)>'
EVIL_ID = 'x"><img src=x>'


def test_every_string_is_escaped_by_the_templates(shared_data, tmp_path):
    """Crafted records: a model label and a material id carrying markup appear on the pages
    as text, never as markup (the templates escape; plotly's JSON escapes '<')."""
    from bench.report.site import Section, write_site
    from bench.report.site_materials import Material, material_page

    digest = expected_digest("chgnet", "phonons", "mdr-pbe")
    with Store(tmp_path / "runs") as store:
        run_id = store.start_run({"settings_digest": digest, "git_commit": "<b>c</b>"}, {})
        for i, material_id in enumerate(OK_IDS):
            record = _record(material_id, digest, shared_data, 1.1 + 0.1 * i)
            store.write({**record, "model": EVIL_MODEL}, run_id)
        failure = {**_record(OK_IDS[0], digest, shared_data, 1.0), "model": EVIL_MODEL}
        failure.update(status="failed", values=None, material_id=EVIL_ID)
        failure.update(error_type="Error<script>", error_message="<i>reason</i>")
        store.write({k: v for k, v in failure.items() if k != "artifacts"}, run_id)
        _, ids = resolve_subset("mdr-smoke", shared_data)
        for material_id in set(ids) - set(OK_IDS):  # the whole subset: the table has numbers
            store.write(
                {
                    k: v
                    for k, v in {**failure, "material_id": material_id}.items()
                    if k != "artifacts"
                },
                run_id,
            )
    table = build_table([tmp_path / "runs"], {"phonons": "mdr-smoke"}, equigrad_subset=None)
    evil = table.records.iloc[:1].assign(material_id=EVIL_ID, status="failed")
    evil = evil.assign(error_type="Error<script>", error_message="<i>reason</i>")
    table.records = pd.concat([table.records, evil], ignore_index=True)
    out = tmp_path / "site"
    write_site([Section("smoke", "<em>t</em>", table)], out, [tmp_path / "runs"], shared_data)
    material = Material("mdr-pbe", EVIL_ID, None, None, "", "<u>unreadable</u>")
    pages = {p: p.read_text() for p in out.rglob("*.html")}
    pages[out / "evil.html"] = material_page(material, evil.reset_index(drop=True), [])
    shown = str(escape(EVIL_MODEL))  # chgnet-0.3.0@&#34;&gt;&lt;img src=x ...
    assert all(shown in pages[out / name] for name in ("index.html", "failures.html"))
    for path, text in pages.items():
        for markup in ("<img", "Error<script>", "<i>reason", "<u>", "<b>c", "<em>"):
            assert markup not in text, (path, markup)
    failures = pages[out / "failures.html"]
    assert "x&#34;&gt;&lt;img src=x&gt;" in failures and "&lt;i&gt;reason&lt;/i&gt;" in failures


def test_parity_points_keep_six_significant_digits():
    from bench.report.site_plots import parity_figure

    true = np.array([1 / 3, 2000 / 7, 1e-4 / 3])
    points = pd.DataFrame(
        {"material_id": ["a", "b", "c"], "formula": "", "url": "", "model": true, "dft": true * 1.1}
    )
    fig = parity_figure(points, "m", "K [GPa]")
    text = fig.to_json()
    assert '"customdata":[["a","","",0.333333,0.366667]' in text  # not Python's 17 digits
    assert '"x":{"dtype":"f4"' in text.split('"customdata"')[1]  # positions as float32
    shown = np.concatenate(
        [np.asarray(t.customdata)[:, 3] for t in fig.data if t.customdata is not None]
    )
    assert np.allclose(np.sort(shown.astype(float)), np.sort(true), rtol=5e-6, atol=0)
    assert not np.array_equal(np.sort(shown.astype(float)), np.sort(true))
