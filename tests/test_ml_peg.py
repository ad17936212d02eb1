"""ml-peg's own models.yml (tests/data/ml-peg/models.yml, a verbatim copy: SOURCE.md there)
loads as it is: its metadata kept and shown, an entry named like a catalogue model takes its
place with a note, ``bench models`` lists each name once; an ml-peg-style SevenNet entry gives
the catalogue's 7net-0 numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.cli import main
from bench.models import resolve
from bench.models.external import load_models_file, models_file_entries
from bench.run.store import Store

ML_PEG = Path(__file__).parent / "data" / "ml-peg" / "models.yml"


def test_ml_peg_models_yml_loads_unchanged(capsys):
    assert len(ML_PEG.read_text()) == 6374  # as fetched (SOURCE.md)
    names = load_models_file(ML_PEG)
    assert names == list(yaml.safe_load(ML_PEG.read_text()))
    assert len(names) == 21
    entries = models_file_entries()
    mpa = entries["mace-mpa-0"]
    assert mpa["import"] == "mace.calculators:mace_mp"
    assert mpa["kwargs"] == {"model": "medium-mpa-0"}
    assert "device" not in mpa  # "auto": bench's choice
    assert mpa["metadata"] == {
        "datasets": ["MPtrj", "sAlex"],
        "trained_on_dispersion": False,
        "level_of_theory": "PBE",
    }
    assert entries["mattersim-5M"]["metadata"]["load_path"] == "mattersim-v1.0.0-5m"
    assert entries["pet-mad"]["metadata"]["dispersion_kwargs"] == {"xc": "pbesol"}
    assert entries["mattersim-5M"]["kwargs"] == {}


def test_bench_models_lists_each_name_once(capsys):
    assert main(["models", "--models-file", str(ML_PEG)]) == 0
    out = capsys.readouterr().out
    table, details = out.split("\ndetails")
    for name in ("mace-mpa-0", "mace-omat-0", "pet-mad", "emt"):
        assert sum(line.split()[0] == name for line in table.splitlines() if line) == 1
    line = next(x for x in details.splitlines() if x.strip().startswith("mace-mpa-0:"))
    assert "in place of the catalogue's mace-mpa-0" in line
    assert "trained on MPtrj, sAlex; PBE" in line


def test_an_entry_named_like_a_catalogue_model_wins_with_a_note(factory_folder, tmp_path, capsys):
    here, module = factory_folder
    (here / "models.yml").write_text(
        f"emt:\n  import: {module}:make\n  datasets: [MPtrj]\n  level_of_theory: PBE\n"
    )
    load_models_file(here / "models.yml")
    assert resolve("emt").family == "imported"
    assert "is the entry of models file" in capsys.readouterr().err
    out = tmp_path / "runs"
    argv = ["run", "--models-file", "models.yml", "--model", "emt", "--task", "elasticity"]
    assert main([*argv, "--materials", "mp-10903", "--quiet", "--out", str(out)]) == 0
    with Store(out) as store:
        manifest = store.manifests()[-1]
    assert manifest["model_source"].startswith("models file")
    assert manifest["model_metadata"] == {"datasets": ["MPtrj"], "level_of_theory": "PBE"}
    tab = tmp_path / "tab"
    argv = ["table", "--runs", str(out), "--out", str(tab), "--recorded-only"]
    assert main([*argv, "--models-file", "models.yml"]) == 0
    assert "| emt (MPtrj; PBE) |" in (tab / "table2.md").read_text()


@pytest.mark.slow
def test_ml_peg_style_sevennet_entry_equals_the_catalogue_7net_0(shared_data, tmp_path):
    """ml-peg's form (module, class_name, kwargs, metadata) of SevenNet gives 7net-0's K and
    G on an elastic-smoke material, to the last digit the records keep."""
    pytest.importorskip("sevenn")
    models = tmp_path / "models.yml"
    models.write_text(
        "sevennet-0:\n  module: sevenn.calculator\n  class_name: SevenNetCalculator\n"
        "  datasets: [MPtrj]\n  device: auto\n  trained_on_dispersion: false\n"
        "  level_of_theory: PBE\n  kwargs:\n    model: 7net-0\n"
    )
    common = ["--task", "elasticity", "--materials", "mp-1000", "--quiet"]
    common += ["--data-dir", str(shared_data), "--device", "cpu"]
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    assert main(["run", "--model", "7net-0", *common, "--out", str(ours)]) == 0
    argv = ["run", "--models-file", str(models), "--model", "sevennet-0", *common]
    assert main([*argv, "--out", str(theirs)]) == 0
    with Store(ours) as a, Store(theirs) as b:
        left, right = a.records(), b.records()
    assert list(left["status"]) == list(right["status"]) == ["ok"]
    for prop in ("model.K_GPa", "model.G_GPa"):
        assert right[prop].iloc[0] == pytest.approx(left[prop].iloc[0], rel=1e-6, abs=1e-6)
