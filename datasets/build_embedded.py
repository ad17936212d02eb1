"""Copy the smoke subsets' reference files into the package (``bench/_data``), so a bare
clone runs the default job and the tests offline, and record their sha256 in the definitions.

    .venv/bin/python datasets/build_embedded.py /path/to/shared/data

MDR (mdr-smoke): the files themselves, byte for byte (their sha256 is already in
``mdr-pbe.json``), and the three files the tests read beyond them (``MDR_TEST_FILES``, sha256
under ``embedded`` in ``mdr-pbe.json``). MatCalc (elastic-smoke, cv-binary-smoke, and
elastic-tests / cv-tests, the entries the tests read beyond them): the entries of those
subsets, unchanged, in a smaller file of the same format (``<data set>.smoke.json.gz``, gzip
with a zero mtime so the bytes are reproducible), whose sha256 and subsets go under ``embedded`` in
the data set's definition. All of it is CC BY 4.0 (Alexandria, Materials Project; see
``bench/_data/LICENSE.md``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EMBEDDED = HERE.parent / "bench" / "_data"
MDR_SMOKE = ("mdr-pbe", "mdr-smoke")
#: MDR files the tests read beyond mdr-smoke's (a bare clone tests with no data-related skip):
#: the one published-layout sample (PBEsol BaTe, hyllios/utils), the re-save's MANIFEST (the
#: checksums the definitions copy) and its independently derived 300 K table
MDR_TEST_FILES = (
    "mdr/hyllios_utils/mp-1000.yaml.bz2",
    "mdr/benchmark_app/MANIFEST.csv",
    "mdr/benchmark_app_300K.csv",
)
MATCALC_SMOKE = {
    "mp-binary-pbe-elasticity-2025.1": ["elastic-smoke", "elastic-tests"],
    "alexandria-binary-pbe-phonon-2025.1": ["cv-binary-smoke", "cv-tests"],
}


def ids(subset: str) -> list[str]:
    lines = (HERE / "subsets" / f"{subset}.txt").read_text().splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def main(shared: Path) -> None:
    definitions = json.loads((HERE / f"{MDR_SMOKE[0]}.json").read_text())
    for material_id in ids(MDR_SMOKE[1]):
        for name in ("force_constants.yaml.xz", "thermal_properties.json"):
            rel = f"mdr/benchmark_app/{material_id}/{name}"
            (EMBEDDED / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared / rel, EMBEDDED / rel)
            digest = hashlib.sha256((EMBEDDED / rel).read_bytes()).hexdigest()
            assert digest == definitions["files"][rel], rel
    extra = {}
    for rel in MDR_TEST_FILES:
        (EMBEDDED / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / rel, EMBEDDED / rel)
        extra[rel] = hashlib.sha256((EMBEDDED / rel).read_bytes()).hexdigest()
    definitions["embedded"] = {"subsets": [MDR_SMOKE[1]], "files": extra}
    (HERE / f"{MDR_SMOKE[0]}.json").write_text(
        json.dumps(definitions, indent=1, ensure_ascii=False) + "\n"
    )
    for dataset, subsets in MATCALC_SMOKE.items():
        path = HERE / f"{dataset}.json"
        definition = json.loads(path.read_text())
        with gzip.open(shared / definition["file"], "rt", encoding="utf-8") as handle:
            entries = json.load(handle)
        wanted = {i for s in subsets for i in ids(s)}
        kept = [e for e in entries if e["mp_id"] in wanted]
        assert len(kept) == len(wanted), dataset
        rel = definition["file"].replace(".json.gz", ".smoke.json.gz")
        data = gzip.compress(json.dumps(kept).encode(), mtime=0)
        (EMBEDDED / rel).parent.mkdir(parents=True, exist_ok=True)
        (EMBEDDED / rel).write_bytes(data)
        for subset in subsets:  # the *-tests subsets are defined here, not by build_definitions.py
            definition["subsets"].setdefault(subset, f"subsets/{subset}.txt")
        definition["embedded"] = {
            "file": rel,
            "sha256": hashlib.sha256(data).hexdigest(),
            "subsets": subsets,
        }
        path.write_text(json.dumps(definition, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {EMBEDDED}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
