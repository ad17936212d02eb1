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

BROWSER = find_chromium()
pytestmark = [
    pytest.mark.slow,  # a headless Chromium per page
    pytest.mark.skipif(
        BROWSER is None,
        reason="no chromium on PATH (apt-get install chromium) for the browser test",
    ),
]


@pytest.fixture(scope="module")
def site(shared_data, tmp_path_factory) -> Path:
    runs = make_store(tmp_path_factory.mktemp("runs"), shared_data)
    out = tmp_path_factory.mktemp("site")
    build_site([runs], out, data_dir=shared_data, command="pytest")
    return out


def test_table_renders_every_row(site):
    dom = dump_dom(site / "index.html", BROWSER)
    # the smoke materials lie in mdr-50 too, but count under their own subset only
    assert re.findall(r'<table id="table2-(\w+)"', dom) == ["smoke"]
    body = re.search(r'<table id="table2-smoke".*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
    assert len(re.findall(r"<tr>", body)) == 1  # picked subsets: no paper rows beside them


def test_parity_plot_draws_its_points(site):
    dom = dump_dom(site / "parity" / "smoke" / f"{MODEL}__omega_max_K.html", BROWSER)
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


COMMITTED = Path(__file__).resolve().parents[1] / "results" / "site"
#: written into a copy of a page: its widths once laid out, as an attribute of <body>
WIDTHS = (
    "<script>window.addEventListener('load', function () { var e = document.documentElement;"
    " document.body.setAttribute('data-widths', e.scrollWidth + ' ' + e.clientWidth); });"
    "</script></body>"
)


def _widths(page: Path, tmp_path: Path, width: int = 1400) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the page laid out in a ``width``-pixel window."""
    probe = page.with_name(f"_probe_{page.name}")
    probe.write_text(page.read_text().replace("</body>", WIDTHS))
    try:
        dom = dump_dom(probe, BROWSER, size=(width, 1000))
    finally:
        probe.unlink()
    scroll, client = re.search(r'data-widths="(\d+) (\d+)"', dom).groups()
    return int(scroll), int(client)


@pytest.mark.parametrize("which", ["test", "committed"])
def test_index_fits_1400_px_without_horizontal_scroll(site, tmp_path, which):
    root = site if which == "test" else COMMITTED
    if not (root / "index.html").is_file():
        pytest.skip("no committed site")
    scroll, client = _widths(root / "index.html", tmp_path)
    assert scroll <= client, f"index is {scroll} px wide in a {client} px window"


def _beyond_markers(dom: str) -> tuple[int, int]:
    """(points drawn in the "beyond the axes" trace, the count its legend names)."""
    legend = re.findall(r'class="legendtext"[^>]*>([^<]*)<', dom)
    named = [int(re.search(r"\((\d+)\)", t).group(1)) for t in legend if t.startswith("beyond")]
    traces = re.findall(r'<g class="trace scatter[^"]*".*?(?=<g class="trace|$)', dom, re.S)
    drawn = [len(re.findall(r'<path class="point\b', t)) for t in traces]
    return (drawn[-1] if named else 0), (named[0] if named else 0)


def test_parity_plot_clips_outliers_to_the_edge_and_counts_them(tmp_path):
    """Two predictions far below the rest (as CHGNet's −1,000 GPa K): the axes keep the bulk,
    the two are drawn at the edge in their own trace, and the legend counts them."""
    import numpy as np
    import pandas as pd
    from markupsafe import Markup

    from bench.report.html import page, write_assets
    from bench.report.site_plots import figure_html, parity_figure

    dft = np.linspace(10, 300, 400)
    model = dft + np.sin(dft)
    model[[5, 9]] = [-1000.0, -1400.0]
    points = pd.DataFrame({"material_id": "m", "formula": "X", "model": model, "dft": dft})
    points["url"], points["flagged"] = "", False
    fig = parity_figure(points, "m", "K [GPa]", "title")
    assert fig.layout.xaxis.range == fig.layout.yaxis.range and fig.layout.xaxis.range[0] > -100
    html = page("p", Markup(figure_html(fig, "parity")), depth=1, plotly=True)
    write_assets(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p.html").write_text(html)
    assert _beyond_markers(dump_dom(tmp_path / "sub" / "p.html", BROWSER)) == (2, 2)


def test_committed_full_set_k_parity_shows_clipped_markers():
    page = COMMITTED / "parity" / "full" / f"{MODEL}__K_GPa.html"
    if not page.is_file():
        pytest.skip("no committed full-set site")
    drawn, named = _beyond_markers(dump_dom(page, BROWSER))
    assert drawn == named > 0
