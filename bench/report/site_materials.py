"""One site page per material: structure, bands and DOS (DFT and each model's kept force
constants, overlaid), the scored quantities side by side, relaxation, timings, failures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from ase import Atoms
from phonopy import Phonopy

from bench.datasets import get_dataset, load_phonon_reference, load_structure
from bench.physics.kept_fc import phonopy_from_payload
from bench.report.bands import phonon_curves
from bench.report.html import cell, esc, number, page, table
from bench.report.phonon_metrics import BAND_RMSE, BAND_RMSE_LABEL, EXTRA_MAE
from bench.report.site_plots import curves_figure, figure_html
from bench.run.artifacts import find_artifact, load_artifact
from bench.run.store import details_of
from bench.tasks import TASKS


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
        if get_dataset(dataset).task == "phonons":
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


def structure_html(material: Material) -> str:
    """Formula, atoms, space group, lattice and volume of the reference structure."""
    atoms = material.structure
    if atoms is None:
        return f'<p class="fail">Reference not readable: {esc(material.error)}</p>'
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
    body = [[cell(esc(k)), cell(esc(v))] for k, v in rows]
    return table(["", ""], body, sortable=False)


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


def bands_html(material: Material, records: pd.DataFrame, roots: list[Path]) -> str:
    """Bands along ASE's standard path and DOS of DFT and every model with kept force
    constants, overlaid (the models alone when the data set has no DFT force constants)."""
    kept, missing = _kept(records, roots)
    note = "" if not missing else f"<p>No force constants for: {esc(', '.join(missing))}.</p>"
    if material.reference is not None:
        first, name, others = material.reference, "DFT", kept
    elif kept:
        name, first = next(iter(kept.items()))
        others = {k: v for k, v in kept.items() if k != name}
        note += "<p>No DFT force constants in this data set: the models' bands only.</p>"
    else:
        return note + "<p>No DFT force constants in this data set and none kept.</p>"
    try:
        curves = phonon_curves(first, others, ref_name=name)
    except Exception as err:  # force constants of the wrong shape, a degenerate cell: noted
        return note + f'<p class="fail">No band structure: {esc(err)}</p>'
    where = "the reference" if name == "DFT" else name
    note += f"<p>Path {esc(curves.path)} (ASE, primitive cell of {esc(where)}); THz.</p>"
    return note + figure_html(curves_figure(curves), "bands")


def _properties(task: str) -> list[tuple[str, str]]:
    props = [(p.name, p.label) for p in TASKS[task].props]
    if task == "phonons":
        props += list(EXTRA_MAE.items())
    return props


def quantities_html(task: str, records: pd.DataFrame) -> str:
    """DFT and each model's value (and |error|) of the task's quantities."""
    props = _properties(task)
    ref_row = records.iloc[0]
    headers = ["quantity", "DFT", *records["model"]]
    rows = []
    for name, label in props:
        dft = ref_row.get(f"ref.{name}")
        cells = [cell(esc(label)), cell(number(dft, 5), cls="num")]
        for _, r in records.iterrows():
            value = r.get(f"model.{name}")
            text = number(value, 5)
            if value is not None and pd.notna(value) and dft is not None and pd.notna(dft):
                text += f' <span class="paper">|Δ| {number(abs(value - dft), 3)}</span>'
            cells.append(cell(text, cls="num"))
        rows.append(cells)
    if task == "phonons":
        rmse = [number(r.get(f"model.{BAND_RMSE}"), 4) for _, r in records.iterrows()]
        rows.append([cell(BAND_RMSE_LABEL), cell("–")] + [cell(v, cls="num") for v in rmse])
        rows.append(_stable_row(ref_row, records))
    return table(headers, rows, table_id="quantities", sortable=False)


def _flag(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return "stable" if bool(value) else "unstable"


def _stable_row(ref_row: pd.Series, records: pd.DataFrame) -> list[str]:
    cells = [cell("dynamical stability (MDR's rule)"), cell(_flag(ref_row.get("ref.stable")))]
    return cells + [cell(_flag(r.get("model.stable"))) for _, r in records.iterrows()]


def run_details_html(records: pd.DataFrame) -> str:
    """Per model: status and failure reason, relaxation, sizes, timings, peak memory."""
    out = ""
    for _, r in records.iterrows():
        details = details_of(r["details_json"])
        timings = {c[5:]: r[c] for c in r.index if c.startswith("time.") and pd.notna(r[c])}
        out += f'<h3 id="{esc(r["model"])}">{esc(r["model"])}: {esc(r["status"])}</h3>'
        if r["status"] != "ok":
            out += f'<p class="fail">{esc(r["error_type"])}: {esc(r["error_message"])}</p>'
        rows = [
            ("relaxation", details.get("relax")),
            ("displacements, supercell atoms", _pair(details)),
            ("timings [s]", {k: round(float(v), 3) for k, v in timings.items()}),
            ("wall time [s]", number(r.get("wall_s"), 6)),
            ("peak memory: material, worker [MB]", _peaks(details)),
            ("kept force constants", (details.get("artifacts") or {}).get("force_constants")),
            ("settings digest, run", f"{r['settings_digest']}, {r['run_id']}"),
        ]
        body = [[cell(esc(k)), cell(f"<code>{esc(_text(v))}</code>")] for k, v in rows]
        out += table(["", ""], body, sortable=False)
    return out


def _pair(details: dict[str, Any]) -> str | None:
    if "n_displacements" not in details:
        return None
    return f"{details['n_displacements']}, {details.get('n_atoms_supercell')}"


def _peaks(details: dict[str, Any]) -> str | None:
    """This material's peak (records since the per-material reset) and its worker's so far."""
    own, worker = details.get("material_peak_rss_MB"), details.get("worker_peak_rss_MB")
    if own is None and worker is None:
        return None
    return f"{number(own, 6)}, {number(worker, 6)}"


def _text(value: Any) -> str:
    if value is None:
        return "–"
    return value if isinstance(value, str) else json.dumps(value)


def material_page(material: Material, records: pd.DataFrame, roots: list[Path]) -> str:
    """The whole page of one material (``records``: its records, every model)."""
    task = str(records["task"].iloc[0])
    body = (
        f"<p>Data set <code>{esc(material.dataset)}</code>, task {esc(task)}.</p>"
        '<div class="row"><div><h2>Structure (reference)</h2>'
        + structure_html(material)
        + "</div><div><h2>Quantities</h2>"
        + quantities_html(task, records)
        + "</div></div>"
    )
    if task == "phonons":
        body += "<h2>Band structure and DOS</h2>" + bands_html(material, records, roots)
    body += "<h2>Runs</h2>" + run_details_html(records)
    title = f"{material.material_id} {material.formula}"
    return page(title, body, depth=2, plotly=task == "phonons")
