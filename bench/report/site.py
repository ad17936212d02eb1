"""``bench report``: a static site of a Table 2 (``results/site/index.html`` and its pages).

No server: every link is relative and plotly.js is bundled once (``assets/``), so the site
opens from disk and works offline. Pages: ``index.html`` (Table 2, sortable, each value
linking to its parity plot; the phonon metrics beyond it), ``parity/<model>__<property>.html``
(interactive: hover names the material, a click opens it), ``materials/<dataset>/<id>.html``
(structure, bands and DOS from the kept force constants, quantities, runs, failures),
``failures.html`` and ``provenance.html``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.report.html import esc, page, write_assets
from bench.report.metrics import absolute_errors, format_mae, mean_interval
from bench.report.phonon_metrics import EXTRA_MAE
from bench.report.site_index import (
    failures_page,
    index_page,
    material_name,
    parity_name,
    provenance_page,
)
from bench.report.site_materials import Material, load_material, material_page
from bench.report.site_plots import figure_html, parity_figure
from bench.report.table import COLUMNS, Table, column_label, phonon_basis


def _labels(table: Table) -> dict[str, str]:
    """Property -> axis label, Table 2's and the phonon extras."""
    basis = phonon_basis(table)
    return {**{p: column_label(p, basis) for p in COLUMNS}, **EXTRA_MAE}


def parity_pages(table: Table, materials: dict[tuple[str, str], Material], out: Path) -> set[str]:
    """One page per model and property with ok records; returns their names."""
    written = set()
    records = table.records
    ok = records[records["status"] == "ok"] if len(records) else records
    for model, group in ok.groupby("model") if len(ok) else []:
        for prop, label in _labels(table).items():
            err = absolute_errors(group, prop)
            if err.empty:
                continue
            rows = group.loc[err.index]
            points = pd.DataFrame(
                {
                    "material_id": rows["material_id"].to_numpy(),
                    "formula": [materials[(d, m)].formula for d, m in _keys(rows)],
                    "model": rows[f"model.{prop}"].astype(float).to_numpy(),
                    "dft": rows[f"ref.{prop}"].astype(float).to_numpy(),
                    "url": [f"../{material_name(d, m)}#{model}" for d, m in _keys(rows)],
                }
            )
            mae = format_mae(err.mean(), *mean_interval(err.to_numpy()))
            body = (
                f"<p>MAE {esc(mae)} (95 % bootstrap interval), n = {len(err)}. Hover a point "
                "for the material, click it to open its page.</p>"
                + figure_html(parity_figure(points, model, label), "parity", True)
            )
            name = parity_name(model, prop)
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(page(f"{model}: {label}", body, depth=1, plotly=True))
            written.add(name)
    return written


def _keys(records: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(records["dataset"], records["material_id"], strict=True))


def write_site(
    table: Table,
    out: Path,
    roots: list[Path],
    data_dir: Path | None = None,
    command: str = "bench report",
) -> list[Path]:
    """Write the site of ``table`` under ``out``; ``roots``: the results directories the
    records came from (where kept force constants are looked up). Returns the files."""
    out.mkdir(parents=True, exist_ok=True)
    paths = write_assets(out)
    records = table.records
    keys = sorted(set(_keys(records))) if len(records) else []
    materials = {key: load_material(*key, data_dir) for key in keys}
    parity = parity_pages(table, materials, out)
    paths += [out / name for name in sorted(parity)]
    for name, text in (
        ("index.html", index_page(table, parity, command)),
        ("failures.html", failures_page(table)),
        ("provenance.html", provenance_page(table, command)),
    ):
        (out / name).write_text(text)
        paths.append(out / name)
    for (dataset, material_id), material in materials.items():
        mine = records[(records["dataset"] == dataset) & (records["material_id"] == material_id)]
        path = out / material_name(dataset, material_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(material_page(material, mine.reset_index(drop=True), roots))
        paths.append(path)
    return paths


def build_site(
    runs: list[Path],
    out: Path,
    subsets: dict[str, str] | None = None,
    data_dir: Path | None = None,
    command: str = "bench report",
) -> list[Path]:
    """:func:`bench.report.table.build_table` of the results directories ``runs`` (stores or
    records directories), then :func:`write_site` into ``out``."""
    from bench.report.table import build_table

    table = build_table(runs, subsets, data_dir, equigrad_subset=None)
    return write_site(table, out, runs, data_dir, command)
