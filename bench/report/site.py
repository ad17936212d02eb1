"""``bench report``: a static site of the results, the front page of what was measured.

The index shows one Table 2 per section: the full sets first (MatCalc's Cv and elastic sets),
then MDR's materials here (Table 2's phonon set), the dev and smoke subsets, each with its
set, size, coverage and protocol, and which model is better by paired comparisons; a section
without records is left out. No server: every link is relative and plotly.js is bundled once
(``assets/``), so the site opens from disk and works offline. Pages:
``parity/<section>/<model>__<property>.html`` (interactive: hover names the material, a click
opens its page), ``materials/<dataset>/<id>.html`` (structure, bands and DOS from the kept
force constants, quantities, runs, failures), ``failures.html`` and ``provenance.html``.

Size budget: a material page for every material of a subset of at most
:data:`ALL_PAGES_UP_TO` materials; of a larger one (a full set), for each failed material and
the :data:`WORST_PER_PROPERTY` largest absolute errors per model and property. Band
structures only where a model kept its force constants (DFT's alone are not drawn).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from bench.datasets import resolve_subset
from bench.errors import ConfigurationError
from bench.report.html import page, paragraph, write_assets
from bench.report.markdown import TITLE, measured_tasks
from bench.report.metrics import absolute_errors, format_mae, mean_interval
from bench.report.parity import flags_of
from bench.report.phonon_metrics import EXTRA_MAE
from bench.report.scope import subset_kind
from bench.report.site_index import (
    extras_section,
    failures_page,
    material_name,
    parity_name,
    provenance_page,
    table2_html,
)
from bench.report.site_materials import Material, load_material, material_page
from bench.report.site_plots import figure_html, parity_figure
from bench.report.site_sections import paired_section, section_intro
from bench.report.table import (
    COLUMNS,
    SET_NAMES,
    Table,
    column_header,
    table_datasets,
)
from bench.report.templates import join, render
from bench.run.atomic import write_text
from bench.tasks import table2_tasks

#: (key, title, subsets): the index's sections in order
SECTIONS = tuple(
    (key, title, {t.name: t.report_subsets[key] for t in table2_tasks() if key in t.report_subsets})
    for key, title in (
        ("full", "Full sets"),
        ("mdr", "Table 2's phonon set"),
        ("dev", "Dev subsets"),
        ("smoke", "Smoke subsets"),
    )
)
ALL_PAGES_UP_TO = 100
WORST_PER_PROPERTY = 10


@dataclass
class Section:
    """One Table 2 of the site: a pair of subsets and its table."""

    key: str
    title: str
    table: Table


def parity_link(section: str, model: str, prop: str) -> str:
    """Relative path of a section's parity page from the site root."""
    return f"parity/{section}/{parity_name(model, prop).removeprefix('parity/')}"


def _labels(table: Table) -> dict[str, str]:
    """Property -> axis label (unit, basis, set), Table 2's and the phonon extras."""
    return {**{p: column_header(table, p) for p in COLUMNS}, **EXTRA_MAE}


def _keys(records: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(records["dataset"], records["material_id"], strict=True))


def parity_pages(
    section: Section, materials: dict[tuple[str, str], Material], pages: set[str], out: Path
) -> dict[tuple[str, str], str]:
    """One page per model and property with ok records; (model, property) -> its path."""
    written = {}
    records = section.table.records
    ok = records[records["status"] == "ok"] if len(records) else records
    for model, group in ok.groupby("model") if len(ok) else []:
        for prop, label in _labels(section.table).items():
            err = absolute_errors(group, prop)
            if err.empty:
                continue
            rows = group.loc[err.index]
            urls = [material_name(d, m) for d, m in _keys(rows)]
            flagged, flag = flags_of(rows)
            points = pd.DataFrame(
                {
                    "material_id": rows["material_id"].to_numpy(),
                    "formula": [m.formula if (m := materials.get(k)) else "" for k in _keys(rows)],
                    "model": rows[f"model.{prop}"].astype(float).to_numpy(),
                    "dft": rows[f"ref.{prop}"].astype(float).to_numpy(),
                    "url": [f"../../{u}#{model}" if u in pages else "" for u in urls],
                    "flagged": flagged,
                }
            )
            points.attrs["flag"] = flag
            mae = format_mae(err.mean(), *mean_interval(err.to_numpy()))
            title = f"{model}: n = {len(err)}, MAE {mae} (95 % bootstrap interval)"
            body = join(
                [
                    paragraph(
                        "Axes: the 0.5–99.5 percentiles of the DFT and predicted values "
                        "together, equal on both sides; points beyond them are drawn at the "
                        "edge as open triangles and counted in the legend. Hover a point for "
                        "the material, click it to open its page (failures and the "
                        f"{WORST_PER_PROPERTY} worst per property have one on the full sets)."
                    ),
                    Markup(figure_html(parity_figure(points, model, label, title), "parity", True)),
                ]
            )
            name = parity_link(section.key, model, prop)
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, page(f"{model}: {label}", body, depth=2, plotly=True))
            written[(model, prop)] = name
    return written


def page_keys(section: Section) -> set[tuple[str, str]]:
    """The materials of a section that get a page (the module's size budget)."""
    records = section.table.records
    if not len(records):
        return set()
    keys: set[tuple[str, str]] = set()
    for subset in section.table.subsets.values():
        dataset, ids = resolve_subset(subset)
        part = records[(records["dataset"] == dataset) & records["material_id"].isin(ids)]
        if len(ids) <= ALL_PAGES_UP_TO:
            keys |= set(_keys(part))
            continue
        keys |= set(_keys(part[part["status"] != "ok"]))
        ok = part[part["status"] == "ok"]
        for _, group in ok.groupby("model"):
            for prop in [*COLUMNS, *EXTRA_MAE]:
                err = absolute_errors(group, prop)
                worst = group.loc[err.nlargest(WORST_PER_PROPERTY).index]
                keys |= set(_keys(worst))
    return keys


def index_page(sections: list[Section], links: dict[str, dict], command: str) -> str:
    """Every section's Table 2 under its heading, with what the section is."""
    parts = [
        paragraph(
            "Mean absolute errors against DFT measured here, each with its 95 % bootstrap "
            "interval over materials, beside the Orb-v3 paper's value where the paper measured "
            "that set (MDR for ωmax, S, F, Cv; MatCalc's elastic set for K and G). Full sets "
            "first, then the subsets. Click a header to sort, a value for its parity plot; "
            "hover a count for the coverage, a note for why a model was not run. Made by: ",
            (command, "code"),
            ".",
        )
    ]
    for section in sections:
        key = section.key
        parts.append(render("heading", level=2, text=section.title, id=key))
        parts += section_intro(section.table)
        parts.append(table2_html(section.table, links[key], f"table2-{key}"))
        parts.append(paired_section(section.table, key))
        parts.append(extras_section(section.table, links[key], key))
    return page(TITLE, join(parts))


def write_site(
    sections: list[Section],
    out: Path,
    roots: list[Path],
    data_dir: Path | None = None,
    command: str = "bench report",
) -> list[Path]:
    """Write the site of ``sections`` under ``out``; ``roots``: the results directories the
    records came from (where kept force constants are looked up). Returns the files."""
    out.mkdir(parents=True, exist_ok=True)
    paths = write_assets(out)
    used = [s.table.records for s in sections if len(s.table.records)]
    every = pd.concat(used) if used else pd.DataFrame()
    if len(every):
        every = every.drop_duplicates(["model", "task", "dataset", "material_id", "run_id"])
    keys = sorted(set().union(*(page_keys(s) for s in sections)))
    materials = {key: load_material(*key, data_dir) for key in keys}
    pages = {material_name(*key) for key in keys}
    links = {}
    for section in sections:
        links[section.key] = parity_pages(section, materials, pages, out)
        paths += [out / name for name in sorted(links[section.key].values())]
    manifests = [m for s in sections for m in s.table.manifests]
    records = every if len(every) else pd.DataFrame()
    for name, text in (
        ("index.html", index_page(sections, links, command)),
        ("failures.html", failures_page(_failures(sections), pages)),
        ("provenance.html", provenance_page(records, manifests, command)),
    ):
        write_text((out / name), text)
        paths.append(out / name)
    for (dataset, material_id), material in materials.items():
        mine = every[(every["dataset"] == dataset) & (every["material_id"] == material_id)]
        path = out / material_name(dataset, material_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, material_page(material, mine.reset_index(drop=True), roots))
        paths.append(path)
    return paths


def has_records(table: Table) -> bool:
    """Whether some model of the table has records on its subsets (a number or a coverage)."""
    for task in table.subsets:
        column = table.frame.get(f"{task}.coverage", pd.Series(dtype=str)).astype(str)
        if any(not c.startswith("0 of") for c in column):
            return True
    return False


def _failures(sections: list[Section]) -> pd.DataFrame:
    """Every failure of the sections' records, those that entered no number too."""
    frames = [f for s in sections for f in (s.table.records, s.table.unscored) if len(f)]
    if not frames:
        return pd.DataFrame()
    every = pd.concat(frames, ignore_index=True)
    every = every[every["status"] != "ok"]
    return every.drop_duplicates(["model", "task", "dataset", "material_id", "run_id"])


def build_site(
    runs: list[Path],
    out: Path,
    subsets: dict[str, str] | None = None,
    data_dir: Path | None = None,
    command: str = "bench report",
) -> list[Path]:
    """The sections' tables (:func:`bench.report.table.build_table`) of the results
    directories ``runs`` (stores or records directories), then :func:`write_site` into
    ``out``. ``subsets``: one section of those subsets instead of :data:`SECTIONS`."""
    from bench.report.table import build_table

    chosen = [("subsets", "Table 2", subsets)] if subsets else SECTIONS
    sections = []
    for key, title, pair in chosen:
        # the paper's rows beside sets that compare with its values, not beside picked ones
        picked = all(subset_kind(s) == "picked" for s in pair.values()) and not subsets
        table = build_table(
            runs,
            {t.name: pair.get(t.name) for t in table2_tasks()},  # None: not in this section
            data_dir,
            equigrad_subset=None,
            recorded_only=picked,
            own_records_only=not (subsets or picked),  # those of a picked one count under it
            paper_rows=False,
        )
        if subsets or has_records(table):
            sections.append(Section(key, _title(title, table), table))
    if not sections:  # records, but none a section shows (other models, subsets, tasks)
        raise ConfigurationError(
            f"nothing to report from {', '.join(map(str, runs))}: no record is of a material "
            f"of the subsets {', '.join(_subset_names(chosen))} (bench summary lists what is there)"
        )
    return write_site(sections, out, runs, data_dir, command)


def _subset_names(chosen: Any) -> list[str]:
    """The subsets of the site's sections, each once, in order."""
    names = (name for _, _, subsets in chosen for name in subsets.values())
    return list(dict.fromkeys(names))


def _title(title: str, table: Table) -> str:
    """``Full sets: MatCalc Cv set, MatCalc elastic set`` (the sets with records)."""
    sets = table_datasets(table)
    names = [SET_NAMES.get(sets[t], sets[t]) for t in measured_tasks(table)]
    return f"{title}: {', '.join(names)}" if names else title
