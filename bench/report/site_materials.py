"""One site page per material: structure, bands and DOS (DFT and each model's kept force
constants, overlaid), the scored quantities side by side, relaxation, timings, failures."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase import Atoms
from markupsafe import Markup
from phonopy import Phonopy

from bench.datasets import get_dataset, load_phonon_reference, load_structure
from bench.physics.kept_fc import phonopy_from_payload
from bench.report.bands import phonon_curves
from bench.report.html import Cell, cell, heading, number, page, paragraph, table
from bench.report.html import details as details_toggle
from bench.report.phonon_metrics import BAND_RMSE, BAND_RMSE_LABEL, EXTRA_MAE
from bench.report.site_plots import curves_figure, figure_html
from bench.report.templates import join, render
from bench.run.artifacts import find_artifact, load_artifact
from bench.run.schema import details_of
from bench.tasks import TASKS, tasks_with_page


@dataclass
class Material:
    """What the data set says about one material (None where it could not be read)."""

    dataset: str
    material_id: str
    structure: Atoms | None
    reference: Phonopy | None  # DFT force constants (phonon data sets that have them)
    source: str
    error: str | None = None

    @property
    def formula(self) -> str:
        return self.structure.get_chemical_formula() if self.structure is not None else "?"


def load_material(dataset: str, material_id: str, data_dir: Path | None) -> Material:
    """The material's structure and, for a phonon data set, its DFT phonopy object."""
    try:
        if get_dataset(dataset).task in tasks_with_page("bands"):
            ref = load_phonon_reference(dataset, material_id, data_dir)
            return Material(dataset, material_id, ref.unit_cell, ref.phonopy, ref.source)
        atoms, source, _ = load_structure(dataset, material_id, data_dir)
        return Material(dataset, material_id, atoms, None, source)
    except Exception as err:  # a data file of any damage (yaml, spglib, phonopy): noted
        return Material(dataset, material_id, None, None, "", f"{type(err).__name__}: {err}")


def _spacegroup(atoms: Atoms) -> str:
    import spglib

    cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers)
    try:
        return spglib.get_spacegroup(cell, symprec=1e-3) or "?"
    except Exception as err:  # a degenerate cell (spglib's SpglibCppError): noted, not fatal
        return f"? ({type(err).__name__})"


def structure_html(material: Material) -> Markup:
    """Formula, atoms, space group, lattice and volume of the reference structure."""
    atoms = material.structure
    if atoms is None:
        return paragraph(f"Reference not readable: {material.error}", cls="fail")
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    rows = [
        ("formula", atoms.get_chemical_formula()),
        ("atoms in the unit cell", len(atoms)),
        ("space group (spglib, 1e-3 Å)", _spacegroup(atoms)),
        ("a, b, c [Å]", f"{a:.4f}, {b:.4f}, {c:.4f}"),
        ("α, β, γ [°]", f"{alpha:.2f}, {beta:.2f}, {gamma:.2f}"),
        ("volume [Å³]", f"{atoms.get_volume():.3f}"),
        ("data file", material.source),
    ]
    if material.reference is not None:
        ph = material.reference
        rows += [
            ("atoms in the primitive / supercell", f"{len(ph.primitive)} / {len(ph.supercell)}"),
            ("supercell matrix (reference file)", np.asarray(ph.supercell_matrix).tolist()),
        ]
    return table(["", ""], [[cell(k), cell(v)] for k, v in rows], sortable=False)


def _kept(records: pd.DataFrame, roots: list[Path]) -> tuple[dict[str, Phonopy], list[str]]:
    """Model name -> phonopy object from its kept force constants; models without (why)."""
    kept, missing = {}, []
    for _, r in records[records["status"] == "ok"].iterrows():
        path = find_artifact(details_of(r["details_json"]), "force_constants", roots)
        if path is None:
            missing.append(f"{r['model']} (not kept)")
            continue
        try:
            kept[r["model"]] = phonopy_from_payload(load_artifact(path))
        except Exception as err:  # a damaged or foreign file of any kind: noted, not fatal
            missing.append(f"{r['model']} ({path.name}: {err})")
    return kept, missing


def path_text(path: str) -> str:
    """ASE's path string as symbols: ``GXWKGLUWLK,UX`` -> ``Γ–X–W–K–Γ–L–U–W–L–K | U–X``."""
    segments = []
    for segment in path.split(","):
        labels = re.findall(r"[A-Z][a-z0-9]*", segment)
        segments.append("–".join("Γ" if s == "G" else s for s in labels))
    return " | ".join(segments)


#: a material page's bands section when no model kept its force constants
NO_KEPT_TEXT = (
    "No model kept its force constants for this material, so no band structure is drawn "
    "(bench run --push-artifacts keeps them with the records)."
)


def bands_html(material: Material, records: pd.DataFrame, roots: list[Path]) -> Markup:
    """Bands along ASE's standard path and DOS of DFT and every model with kept force
    constants, overlaid (the models alone when the data set has no DFT force constants; none
    when no model kept any: DFT's alone compare with nothing, and would fill the site's size
    budget, bench.report.site)."""
    kept, missing = _kept(records, roots)
    notes = [paragraph(f"No force constants for: {', '.join(missing)}.")] if missing else []
    if material.reference is not None and not kept:
        notes.append(paragraph(NO_KEPT_TEXT))
        return join(notes)
    if material.reference is not None:
        first, name, others = material.reference, "DFT", kept
    elif kept:
        name, first = next(iter(kept.items()))
        others = {k: v for k, v in kept.items() if k != name}
        notes.append(paragraph("No DFT force constants in this data set: the models' bands only."))
    else:
        notes.append(paragraph("No DFT force constants in this data set and none kept."))
        return join(notes)
    try:
        curves = phonon_curves(first, others, ref_name=name)
    except Exception as err:  # force constants of the wrong shape, a degenerate cell: noted
        return join([*notes, paragraph(f"No band structure: {err}", cls="fail")])
    where = "the reference" if name == "DFT" else name
    text = f"Path {path_text(curves.path)} (ASE, primitive cell of {where}); frequencies in K."
    notes.append(paragraph(text))
    return join([*notes, Markup(figure_html(curves_figure(curves), "bands"))])


def _properties(task: str) -> list[tuple[str, str]]:
    props = [(p.name, p.label) for p in TASKS[task].props]
    if TASKS[task].page_section == "bands":
        props += list(EXTRA_MAE.items())
    return props


def quantities_html(task: str, records: pd.DataFrame) -> Markup:
    """DFT and each model's value (and |error|) of the task's quantities."""
    ref_row = records.iloc[0]
    headers = ["quantity", "DFT", *records["model"]]
    rows = []
    for name, label in _properties(task):
        dft = ref_row.get(f"ref.{name}")
        cells = [cell(label), cell(number(dft, 5), cls="num")]
        for _, r in records.iterrows():
            value = r.get(f"model.{name}")
            sub = ""
            if value is not None and pd.notna(value) and dft is not None and pd.notna(dft):
                sub = f"|Δ| {number(abs(value - dft), 3)}"
            cells.append(cell(number(value, 5), cls="num", sub=sub))
        rows.append(cells)
    if TASKS[task].page_section == "bands":
        rmse = [number(r.get(f"model.{BAND_RMSE}"), 4) for _, r in records.iterrows()]
        rows.append([cell(BAND_RMSE_LABEL), cell("–")] + [cell(v, cls="num") for v in rmse])
        rows.append(_stable_row(ref_row, records))
    return table(headers, rows, table_id="quantities", sortable=False)


def _flag(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return "stable" if bool(value) else "unstable"


def _stable_row(ref_row: pd.Series, records: pd.DataFrame) -> list[Cell]:
    cells = [cell("dynamical stability (MDR's rule)"), cell(_flag(ref_row.get("ref.stable")))]
    return cells + [cell(_flag(r.get("model.stable"))) for _, r in records.iterrows()]


def _relax(details: dict[str, Any]) -> str | None:
    relax = details.get("relax")
    if not isinstance(relax, dict):
        return None if relax is None else str(relax)
    parts = [f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in relax.items()]
    return ", ".join(parts)


def _fmt(value: Any) -> str:
    """A number rounded to 4 significant digits; other values as text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return number(value, 4)


def run_details_html(records: pd.DataFrame) -> Markup:
    """Per model: status and failure reason, then a table of the relaxation, sizes, timings
    (s), peak memory (MB), rounded; the record's raw details behind a toggle."""
    parts = []
    for _, r in records.iterrows():
        details = details_of(r["details_json"])
        timings = {c[5:]: r[c] for c in r.index if c.startswith("time.") and pd.notna(r[c])}
        parts.append(heading(3, f"{r['model']}: {r['status']}", anchor=str(r["model"])))
        if r["status"] != "ok":
            parts.append(paragraph(f"{r['error_type']}: {r['error_message']}", cls="fail"))
        rows = [
            ("relaxation", _relax(details)),
            ("displacements, supercell atoms", _pair(details)),
            ("timings [s]", ", ".join(f"{k} {_fmt(float(v))}" for k, v in timings.items())),
            ("wall time [s]", number(r.get("wall_s"), 4)),
            ("peak memory: material, worker [MB]", _peaks(details)),
            ("kept force constants", (details.get("artifacts") or {}).get("force_constants")),
            ("settings digest, run", f"{r['settings_digest']}, {r['run_id']}"),
        ]
        body = [[cell(k), cell(v or "–")] for k, v in rows]
        parts.append(table(["", "value"], body, sortable=False))
        parts.append(details_toggle("raw record details (JSON)", _text(details), pre=True))
    return join(parts)


def _pair(details: dict[str, Any]) -> str | None:
    if "n_displacements" not in details:
        return None
    return f"{details['n_displacements']}, {details.get('n_atoms_supercell')}"


def _peaks(details: dict[str, Any]) -> str | None:
    """This material's peak (records since the per-material reset) and its worker's so far."""
    own, worker = details.get("material_peak_rss_MB"), details.get("worker_peak_rss_MB")
    if own is None and worker is None:
        return None
    return f"{number(own, 5)}, {number(worker, 5)}"


def _text(value: Any) -> str:
    if value is None:
        return "–"
    return value if isinstance(value, str) else json.dumps(value, indent=1)


def material_page(material: Material, records: pd.DataFrame, roots: list[Path]) -> str:
    """The whole page of one material (``records``: its records, every model)."""
    task = str(records["task"].iloc[0])
    parts = [
        paragraph("Data set ", (material.dataset, "code"), f", task {task}."),
        render(
            "row",
            parts=[
                join([heading(2, "Structure (reference)"), structure_html(material)]),
                join([heading(2, "Quantities"), quantities_html(task, records)]),
            ],
        ),
    ]
    if TASKS[task].page_section == "bands":
        parts += [heading(2, "Band structure and DOS"), bands_html(material, records, roots)]
    parts += [heading(2, "Runs"), run_details_html(records)]
    title = f"{material.material_id} {material.formula}"
    return page(title, join(parts), depth=2, plotly=TASKS[task].page_section == "bands")
