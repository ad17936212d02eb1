"""The site in a real browser (headless Chromium, the system's): the table renders all its
rows, a parity plot draws its points, a material page draws two band structures. Skipped
with the reason when no Chromium is installed (CI installs Debian's: .ci/run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_site import MODEL, OK_IDS, make_store

from bench.report.browser import dump_dom, find_chromium, screenshot
from bench.report.site import build_site
from bench.report.table import build_table

BROWSER = find_chromium()
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium on PATH (apt-get install chromium) for the browser test"
)


@pytest.fixture(scope="module")
def site(shared_data, tmp_path_factory) -> Path:
    runs = make_store(tmp_path_factory.mktemp("runs"), shared_data)
    out = tmp_path_factory.mktemp("site")
    build_site([runs], out, data_dir=shared_data, command="pytest")
    return out


def test_table_renders_every_row(site):
    dom = dump_dom(site / "index.html", BROWSER)
    body = re.search(r'<table id="table2".*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
    assert len(re.findall(r"<tr>", body)) == len(build_table([]).frame) + 1


def test_parity_plot_draws_its_points(site):
    dom = dump_dom(site / "parity" / f"{MODEL}__omega_max_K.html", BROWSER)
    layer = dom[dom.index('class="scatterlayer') :]
    assert len(re.findall(r'<path class="point\b', layer)) == len(OK_IDS)


def test_material_page_draws_two_band_structures(site, tmp_path):
    page = site / "materials" / "mdr-pbe" / "mp-1000.html"
    dom = dump_dom(page, BROWSER)
    legend = re.findall(r'class="legendtext"[^>]*>([^<]*)<', dom)
    assert legend == ["DFT", MODEL]
    # every band of a side is one line trace; both drew a long path (and their DOS)
    lines = re.findall(r'<path class="js-line" d="([^"]+)"', dom)
    assert len([d for d in lines if len(d) > 500]) >= 4
    png = screenshot(page, tmp_path / "material.png", browser=BROWSER)
    assert png.stat().st_size > 10_000
