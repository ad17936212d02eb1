"""Regenerate datasets/*.json and datasets/subsets/*.txt from the reference files.

    .venv/bin/python datasets/build_definitions.py /path/to/shared/data

Checksums come from MDR's MANIFEST.csv and the MatCalc files themselves; subsets are chosen
by fixed rules (sizes, a fixed seed), so running this again on the same files gives the same
output.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import random
import sys
from pathlib import Path

import numpy as np
from phonopy import Phonopy
from phonopy.interface.phonopy_yaml import load_phonopy_yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.datasets.mdr import read_yaml, reference_matrices

HERE = Path(__file__).parent
MATCALC_GITHUB = (
    "https://raw.githubusercontent.com/materialsvirtuallab/matcalc/main/benchmark_data/"
)
MATCALC_MIRRORS = [  # same blobs (materialyzeai fork); MatCalc 0.7.0 itself downloads from HF
    "https://raw.githubusercontent.com/materialyzeai/matcalc/main/benchmark_data/",
    "https://huggingface.co/datasets/materialyze/matcalc-bench/resolve/main/",
]
MATCALC_LICENCE = "CC BY 4.0 ({}); MatCalc repository BSD-3-Clause (Materials Virtual Lab)"
MP_CITATION = (
    "A. Jain et al., APL Mater. 1, 011002 (2013), doi:10.1063/1.4812323; M. de Jong et al., "
    "Sci. Data 2, 150009 (2015), doi:10.1038/sdata.2015.9; via MatCalc benchmark_data"
)
CV_DEV_MAX_ATOMS = 256  # cv-binary-le256: MatCalc-rule supercells up to this many atoms
FULL_ORDER_SEED = 0  # elastic-full: the run order of the whole set
CV_SAMPLE_SEED, CV_SAMPLE_SIZE = 0, 100  # cv-binary-sample100: an unbiased random sample
SMOKE_PER_KIND = 4  # mdr-smoke: 4 files with a primitive_matrix, 4 without


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_subset(name: str, ids: list[str], header: list[str]) -> str:
    path = HERE / "subsets" / f"{name}.txt"
    lines = [f"# {h}" for h in header] + ids
    path.write_text("\n".join(lines) + "\n")
    return f"subsets/{name}.txt"


def n_displacements(fc_yaml: Path) -> int:
    """Displaced supercells phonopy generates for this material (the model's force calls)."""
    raw = read_yaml(fc_yaml)
    supercell, primitive = reference_matrices(raw, fc_yaml)
    unitcell = load_phonopy_yaml(raw).unitcell
    ph = Phonopy(unitcell, supercell, np.eye(3) if primitive is None else primitive)
    ph.generate_displacements(distance=0.01)
    return len(ph.supercells_with_displacements)


def mdr_smoke(shared: Path) -> tuple[list[str], list[str]]:
    """The cheapest materials by force evaluations (displacements x supercell atoms), 4 with
    and 4 without a primitive_matrix in the file; ties by id."""
    with open(shared / "mdr/benchmark_app_300K.csv") as handle:
        rows = list(csv.DictReader(handle))
    cost = {}
    for row in rows:
        path = shared / f"mdr/benchmark_app/{row['mp_id']}/force_constants.yaml.xz"
        cost[row["mp_id"]] = n_displacements(path) * int(row["n_atoms_supercell"])
    chosen = []
    for has_primitive in ("True", "False"):
        kind = [r for r in rows if r["primitive_matrix_in_file"] == has_primitive]
        kind.sort(key=lambda r: (cost[r["mp_id"]], int(r["mp_id"].split("-")[1])))
        chosen += kind[:SMOKE_PER_KIND]
    chosen.sort(key=lambda r: (cost[r["mp_id"]], int(r["mp_id"].split("-")[1])))
    notes = [
        f"{r['mp_id']} {r['unitcell_formula']}: {r['n_atoms_primitive']} primitive / "
        f"{r['n_atoms_supercell']} supercell atoms, {cost[r['mp_id']]} atom-force evaluations, "
        f"primitive_matrix in file: {r['primitive_matrix_in_file']}"
        for r in chosen
    ]
    return [r["mp_id"] for r in chosen], notes


def matcalc_supercell_atoms(entry: dict) -> int:
    lattice = np.array(entry["structure"]["lattice"]["matrix"])
    reps = np.ceil(20.0 / np.linalg.norm(lattice, axis=1))
    return int(len(entry["structure"]["sites"]) * reps.prod())


def elements(entry: dict) -> set[str]:
    return {s["species"][0]["element"] for s in entry["structure"]["sites"]}


def smallest_diverse(entries: list[dict], n: int, key) -> list[str]:
    """The first ``n`` entries in ``key`` order that share no element with an earlier pick."""
    chosen, seen = [], set()
    for entry in sorted(entries, key=key):
        if elements(entry) & seen:
            continue
        chosen.append(entry["mp_id"])
        seen |= elements(entry)
        if len(chosen) == n:
            break
    return chosen


def full_order(first: list[str], everything: list[str]) -> list[str]:
    """``first`` (a uniform random sample) in a seeded random order, then the rest of
    ``everything`` likewise: a uniformly random order, whose dev sample comes first."""
    rng = np.random.default_rng(FULL_ORDER_SEED)
    chosen = set(first)
    rest = [i for i in everything if i not in chosen]
    return [first[i] for i in rng.permutation(len(first))] + [
        rest[i] for i in rng.permutation(len(rest))
    ]


def matcalc_definition(name: str, shared: Path, **fields) -> dict:
    path = shared / f"matcalc/{name}.json.gz"
    digest = sha256(path) if path.is_file() else None
    return {
        "name": name,
        **fields,
        "upstream": MATCALC_GITHUB + f"{name}.json.gz",
        "mirrors": [m + f"{name}.json.gz" for m in MATCALC_MIRRORS],
        "file": f"matcalc/{name}.json.gz",
        "files": {f"matcalc/{name}.json.gz": digest},
    }


def main(shared: Path) -> None:
    (HERE / "subsets").mkdir(exist_ok=True)
    # ---- MDR (Alexandria PBE phonons) ----
    with open(shared / "mdr/benchmark_app/MANIFEST.csv") as handle:
        manifest = list(csv.DictReader(handle))
    files = {f"mdr/benchmark_app/{row['stored_file']}": row["stored_sha256"] for row in manifest}
    mdr_ids = sorted({row["mp_id"] for row in manifest}, key=lambda s: int(s.split("-")[1]))
    smoke, notes = mdr_smoke(shared)
    mdr = {
        "name": "mdr-pbe",
        "task": "phonons",
        "format": "mdr",
        "description": "MDR phonon benchmark: Alexandria PBE phonopy calculations (~10,000 "
        "materials upstream). Two on-disk layouts are read: the published {id}.yaml.bz2, and "
        "phonopy's re-save force_constants.yaml.xz + thermal_properties.json (50 materials "
        "with checksums here).",
        "licence": "CC BY 4.0 (Alexandria database)",
        "citation": "A. Loew, D. Sun, H.-C. Wang, S. Botti, M. A. L. Marques, 'Universal "
        "machine learning interatomic potentials are ready for phonons', npj Comput. Mater. "
        "(2025), doi:10.1038/s41524-025-01650-1",
        "protocol": "mdr",
        "basis": "primcell",
        "upstream": "https://alexandria.icams.rub.de/data/phonon_benchmark/pbe/{material_id}.yaml.bz2",
        "layout": {
            "published": "mdr/pbe/{material_id}.yaml.bz2",
            "phonopy": "mdr/benchmark_app/{material_id}/force_constants.yaml.xz",
            "thermal": "mdr/benchmark_app/{material_id}/thermal_properties.json",
            "listing": "mdr/pbe/index.html",
        },
        "files": files,
        "subsets": {
            "mdr-smoke": write_subset(
                "mdr-smoke",
                smoke,
                [
                    "mdr-smoke: the cheapest of the 50 by atom-force evaluations (phonopy",
                    "displacements x supercell atoms), 4 with and 4 without primitive_matrix.",
                    "Generated by datasets/build_definitions.py.",
                    *notes,
                ],
            ),
            "mdr-50": write_subset(
                "mdr-50", mdr_ids, ["mdr-50: the 50 PBE materials of benchmark_app (MANIFEST)"]
            ),
            "mdr-full": None,  # files in the data directories + the upstream listing
        },
    }
    # ---- MatCalc files ----
    cv_name = "alexandria-binary-pbe-phonon-2025.1"
    with gzip.open(shared / f"matcalc/{cv_name}.json.gz", "rt") as handle:
        cv = json.load(handle)
    cv_smoke = smallest_diverse(
        cv,
        8,
        key=lambda e: (len(e["structure"]["sites"]), matcalc_supercell_atoms(e), e["mp_id"]),
    )
    cv_def = matcalc_definition(
        cv_name,
        shared,
        task="phonons",
        format="matcalc-phonon",
        description="MatCalc's Alexandria binary phonon set (Jan 2025): 1,170 structures with "
        "the heat capacity at 300 K (J/(K mol), per mole of the given cell). The file has no "
        "supercell matrix: MatCalc's protocol builds diag(ceil(20 Å / |a_i|)) of the relaxed "
        "cell.",
        licence=MATCALC_LICENCE.format("Alexandria database"),
        citation="Alexandria database (alexandria.icams.rub.de, CC BY 4.0); A. Loew et al., "
        "npj Comput. Mater. (2025), doi:10.1038/s41524-025-01650-1; via MatCalc benchmark_data",
        protocol="matcalc",
        basis="cell",
        subsets={
            "cv-binary-smoke": write_subset(
                "cv-binary-smoke",
                cv_smoke,
                [
                    "cv-binary-smoke: fewest sites, then smallest MatCalc-rule supercell, no",
                    "element twice. Generated by datasets/build_definitions.py.",
                ],
            ),
            "cv-binary-le256": write_subset(
                "cv-binary-le256",
                [e["mp_id"] for e in cv if matcalc_supercell_atoms(e) <= CV_DEV_MAX_ATOMS],
                [
                    f"cv-binary-le256: every material whose MatCalc-rule supercell has at most "
                    f"{CV_DEV_MAX_ATOMS}",
                    "atoms (181 of 1,170): what a 2-core CPU runs in well under an hour. Biased",
                    "to small, simple cells: not a substitute for cv-binary-1170 (median supercell",
                    "512 atoms, 169 above 1,000; CHGNet needs ~12 GB for one 1,080-atom",
                    "supercell). File order. Generated by datasets/build_definitions.py.",
                ],
            ),
            "cv-binary-sample100": write_subset(
                "cv-binary-sample100",
                [
                    cv[i]["mp_id"]
                    for i in np.random.default_rng(CV_SAMPLE_SEED).permutation(len(cv))[
                        :CV_SAMPLE_SIZE
                    ]
                ],
                [
                    f"cv-binary-sample100: the first {CV_SAMPLE_SIZE} of a random permutation "
                    f"of the 1,170 (numpy",
                    f"default_rng({CV_SAMPLE_SEED}).permutation, file order; seed fixed before "
                    "any result was seen).",
                    "Unbiased for the full set's MAE (median supercell 558 atoms, largest 2,592;",
                    "the full set: 512 and 3,822). Generated by datasets/build_definitions.py.",
                ],
            ),
            "cv-binary-1170": write_subset(
                "cv-binary-1170",
                [
                    cv[i]["mp_id"]
                    for i in np.random.default_rng(CV_SAMPLE_SEED).permutation(len(cv))
                ],
                [
                    "cv-binary-1170: all 1,170 in the order of the random permutation whose first",
                    f"{CV_SAMPLE_SIZE} are cv-binary-sample100, so every prefix of a run "
                    "(which keeps",
                    "this order) is an unbiased sample of the set. Generated by",
                    "datasets/build_definitions.py.",
                ],
            ),
        },
    )
    el_name = "mp-binary-pbe-elasticity-2025.1"
    with gzip.open(shared / f"matcalc/{el_name}.json.gz", "rt") as handle:
        el = json.load(handle)
    el_smoke = smallest_diverse(el, 20, key=lambda e: (len(e["structure"]["sites"]), e["mp_id"]))
    dev = sorted(random.Random(0).sample([e["mp_id"] for e in el], 200))
    el_def = matcalc_definition(
        el_name,
        shared,
        task="elasticity",
        format="matcalc-elastic",
        description="MatCalc's Materials Project binary elastic set (Jan 2025): 3,953 "
        "structures with K_VRH and G_VRH (GPa); MatCalc's default elasticity benchmark.",
        licence=MATCALC_LICENCE.format("Materials Project"),
        citation=MP_CITATION,
        protocol="matcalc",
        subsets={
            "elastic-smoke": write_subset(
                "elastic-smoke",
                el_smoke,
                [
                    "elastic-smoke: the smallest cells (then id), no element twice.",
                    "Generated by datasets/build_definitions.py.",
                ],
            ),
            "elastic-dev": write_subset(
                "elastic-dev",
                dev,
                [
                    "elastic-dev: sorted(random.Random(0).sample(file order ids, 200)).",
                    "Generated by datasets/build_definitions.py.",
                ],
            ),
            "elastic-full": write_subset(
                "elastic-full",
                full_order(dev, [e["mp_id"] for e in el]),
                [
                    "elastic-full: all 3,953; first elastic-dev (itself a uniform random sample)",
                    "in a seeded random order, then the rest in a seeded random order, so every",
                    "prefix of a run (which keeps this order) is a uniform random sample of the",
                    f"set (numpy default_rng({FULL_ORDER_SEED}).permutation of each part, file",
                    "order). Generated by datasets/build_definitions.py.",
                ],
            ),
        },
    )
    el_all = matcalc_definition(
        "mp-pbe-elasticity-2025.3",
        shared,
        task="elasticity",
        format="matcalc-elastic",
        description="MatCalc's full Materials Project elastic set (Mar 2025, 12,122 "
        "materials). Not available offline here (sha256 unknown); downloaded on first use.",
        licence=MATCALC_LICENCE.format("Materials Project"),
        citation=MP_CITATION,
        protocol="matcalc",
        subsets={"elastic-all-2025.3": None},
    )
    for definition in (mdr, cv_def, el_def, el_all):
        path = HERE / f"{definition['name']}.json"
        path.write_text(json.dumps(definition, indent=1, ensure_ascii=False) + "\n")
        print("wrote", path)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
