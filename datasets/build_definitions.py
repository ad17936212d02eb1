"""Regenerate datasets/*.json and datasets/subsets/*.txt from the reference files.

    python datasets/build_definitions.py /path/to/shared/data

Checksums come from the files themselves (and MDR's MANIFEST.csv); subsets are deterministic
(sizes, a fixed seed), so running this again on the same files gives the same output.
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

HERE = Path(__file__).parent
MATCALC_URL = "https://raw.githubusercontent.com/materialsvirtuallab/matcalc/main/benchmark_data/"
MDR_SMOKE = [  # small supercells, high symmetry; 4 with and 4 without primitive_matrix
    "mp-1000",
    "mp-11327",
    "mp-10694",
    "mp-12992",
    "mp-13811",
    "mp-12244",
    "mp-13859",
    "mp-10226",
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_subset(name: str, ids: list[str]) -> str:
    path = HERE / "subsets" / f"{name}.txt"
    path.write_text("\n".join(ids) + "\n")
    return f"subsets/{name}.txt"


def matcalc_supercell_atoms(entry: dict) -> int:
    lattice = np.array(entry["structure"]["lattice"]["matrix"])
    reps = np.ceil(20.0 / np.linalg.norm(lattice, axis=1))
    return int(len(entry["structure"]["sites"]) * reps.prod())


def main(shared: Path) -> None:
    (HERE / "subsets").mkdir(exist_ok=True)
    # ---- MDR (Alexandria PBE phonons) ----
    with open(shared / "mdr/benchmark_app/MANIFEST.csv") as handle:
        manifest = list(csv.DictReader(handle))
    files = {f"mdr/benchmark_app/{row['stored_file']}": row["stored_sha256"] for row in manifest}
    mdr_ids = sorted({row["mp_id"] for row in manifest}, key=lambda s: int(s.split("-")[1]))
    mdr = {
        "name": "mdr-pbe",
        "task": "phonons",
        "format": "mdr",
        "description": "MDR phonon benchmark: Alexandria PBE phonopy calculations (~10,000 "
        "materials upstream). Two on-disk layouts are read: the published {id}.yaml.bz2, and "
        "phonopy's re-save force_constants.yaml.xz + thermal_properties.json.",
        "licence": "CC BY 4.0 (Alexandria database)",
        "citation": "A. Loew, D. Sun, H.-C. Wang, S. Botti, M. A. L. Marques, npj Comput. Mater. "
        "(2025), doi:10.1038/s41524-025-01650-1",
        "upstream": "https://alexandria.icams.rub.de/data/phonon_benchmark/pbe/{material_id}.yaml.bz2",
        "layout": {
            "published": "mdr/pbe/{material_id}.yaml.bz2",
            "phonopy": "mdr/benchmark_app/{material_id}/force_constants.yaml.xz",
            "thermal": "mdr/benchmark_app/{material_id}/thermal_properties.json",
        },
        "files": files,
        "subsets": {
            "mdr-smoke": write_subset("mdr-smoke", MDR_SMOKE),
            "mdr-50": write_subset("mdr-50", mdr_ids),
            "mdr-full": None,  # every material found in the data directories (see README)
        },
    }
    # ---- MatCalc files ----
    cv_name = "alexandria-binary-pbe-phonon-2025.1"
    cv_path = shared / f"matcalc/{cv_name}.json.gz"
    with gzip.open(cv_path, "rt") as handle:
        cv = json.load(handle)
    by_size = sorted(cv, key=lambda e: (matcalc_supercell_atoms(e), e["mp_id"]))
    cv_def = {
        "name": cv_name,
        "task": "phonons",
        "format": "matcalc-phonon",
        "description": "MatCalc's Alexandria binary phonon set: 1,170 structures with the heat "
        "capacity at 300 K (J/(K mol), per mole of the given cell). No supercell matrix: the "
        "supercell follows MatCalc's PhononCalc rule, diag(ceil(20 Å / |a_i|)).",
        "licence": "CC BY 4.0 (Alexandria database); MatCalc repository BSD-3-Clause",
        "citation": "MatCalc (materialsvirtuallab/matcalc) benchmark_data; Alexandria database",
        "upstream": MATCALC_URL + f"{cv_name}.json.gz",
        "supercell_rule": "matcalc-min-length-20A",
        "file": f"matcalc/{cv_name}.json.gz",
        "files": {f"matcalc/{cv_name}.json.gz": sha256(cv_path)},
        "subsets": {
            "cv-binary-smoke": write_subset("cv-binary-smoke", [e["mp_id"] for e in by_size[:8]]),
            "cv-binary-1170": None,  # every material of the file
        },
    }
    el_name = "mp-binary-pbe-elasticity-2025.1"
    el_path = shared / f"matcalc/{el_name}.json.gz"
    with gzip.open(el_path, "rt") as handle:
        el = json.load(handle)
    small = sorted(el, key=lambda e: (len(e["structure"]["sites"]), e["mp_id"]))
    smoke, seen = [], set()
    for entry in small:  # the smallest cells, no element twice: 20 diverse materials
        elements = {s["species"][0]["element"] for s in entry["structure"]["sites"]}
        if elements & seen:
            continue
        smoke.append(entry["mp_id"])
        seen |= elements
        if len(smoke) == 20:
            break
    dev = sorted(random.Random(0).sample([e["mp_id"] for e in el], 200))
    el_def = {
        "name": el_name,
        "task": "elasticity",
        "format": "matcalc-elastic",
        "description": "MatCalc's Materials Project binary elastic set (Jan 2025): 3,953 "
        "structures with K_VRH and G_VRH (GPa); the default set of MatCalc's benchmark.",
        "licence": "CC BY 4.0 (Materials Project); MatCalc repository BSD-3-Clause",
        "citation": "A. Jain et al., APL Mater. 1, 011002 (2013); M. de Jong et al., Sci. Data 2, "
        "150009 (2015); MatCalc benchmark_data",
        "upstream": MATCALC_URL + f"{el_name}.json.gz",
        "file": f"matcalc/{el_name}.json.gz",
        "files": {f"matcalc/{el_name}.json.gz": sha256(el_path)},
        "subsets": {
            "elastic-smoke": write_subset("elastic-smoke", smoke),
            "elastic-dev": write_subset("elastic-dev", dev),
            "elastic-full": None,
        },
    }
    el_all = {
        "name": "mp-pbe-elasticity-2025.3",
        "task": "elasticity",
        "format": "matcalc-elastic",
        "description": "MatCalc's full Materials Project elastic set (Mar 2025, 12,122 "
        "materials). Not available offline here; downloaded from upstream on first use.",
        "licence": "CC BY 4.0 (Materials Project); MatCalc repository BSD-3-Clause",
        "citation": el_def["citation"],
        "upstream": MATCALC_URL + "mp-pbe-elasticity-2025.3.json.gz",
        "file": "matcalc/mp-pbe-elasticity-2025.3.json.gz",
        "files": {"matcalc/mp-pbe-elasticity-2025.3.json.gz": None},
        "subsets": {"elastic-all-2025.3": None},
    }
    for definition in (mdr, cv_def, el_def, el_all):
        path = HERE / f"{definition['name']}.json"
        path.write_text(json.dumps(definition, indent=1) + "\n")
        print("wrote", path)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
