"""Baseline machinery on a cheap job: EMT elasticity on elastic-smoke (2 of 20 materials have
only EMT elements; the other 18 are recorded failures, which the check also guards)."""

from __future__ import annotations

import json

import pytest

from bench.overrides import apply_overrides
from bench.report.baselines import check_baseline, make_baseline, tolerance
from bench.settings import PhononSettings


@pytest.fixture(scope="module")
def emt_baseline(shared_data, tmp_path_factory):
    directory = tmp_path_factory.mktemp("baselines")
    return make_baseline("emt", "elasticity", "elastic-smoke", (1, 2), str(shared_data), directory)


@pytest.mark.slow  # the module's baseline: 20 materials with 1 and 2 workers
def test_baseline_file_records_what_it_needs(emt_baseline):
    doc = json.loads(emt_baseline.read_text())
    assert emt_baseline.name == "emt__elasticity__elastic-smoke.json"
    assert doc["n"] == 20 and doc["n_ok"] == 2 and doc["n_failed"] == 18
    assert doc["per_material"]["mp-10903"]["status"] == "ok"  # AlPt: EMT elements only
    # CuPd's tensor is not positive definite under EMT: an ok record, counted, as MatCalc does
    assert doc["per_material"]["mp-1018029"]["status"] == "ok"
    assert doc["mae"]["K_GPa"] == pytest.approx(8.52, abs=0.05)
    lo, hi = doc["interval"]["K_GPa"]
    assert lo < doc["mae"]["K_GPa"] < hi
    assert [r["workers"] for r in doc["repeats"]] == [1, 2]
    assert doc["spread"]["K_GPa"] < 1e-6  # EMT is deterministic across thread counts
    assert doc["tolerance"]["K_GPa"] == pytest.approx(0.3)  # the absolute floor
    assert doc["command"].startswith("bench baseline make --model emt --task elasticity")
    assert doc["data_checksums"] and doc["settings_digest"]


@pytest.mark.slow  # the module's baseline: 20 materials with 1 and 2 workers
def test_check_passes_on_unchanged_code(emt_baseline, shared_data):
    result = check_baseline(emt_baseline, workers=1, data_dir=str(shared_data))
    assert result.ok, result.report()


@pytest.mark.slow  # the module's baseline: 20 materials with 1 and 2 workers
def test_check_fails_on_a_broken_setting(emt_baseline, shared_data):
    # shear strains 2x too large: G moves by ~0.9 GPa, three times the tolerance
    broken = ["shear_strains=[-0.12,-0.09,0.09,0.12]"]
    result = check_baseline(emt_baseline, workers=1, overrides=broken, data_dir=str(shared_data))
    assert not result.ok
    assert any(p.startswith("G_GPa MAE") for p in result.problems)
    assert any("settings digest" in p for p in result.problems)


@pytest.mark.slow  # the module's baseline: 20 materials with 1 and 2 workers
def test_check_fails_when_a_material_changes_status(emt_baseline, shared_data, tmp_path):
    doc = json.loads(emt_baseline.read_text())
    doc["per_material"]["mp-10903"]["status"] = "failed"
    edited = tmp_path / emt_baseline.name
    edited.write_text(json.dumps(doc))
    result = check_baseline(edited, workers=1, data_dir=str(shared_data))
    assert not result.ok and "mp-10903 (failed -> ok)" in result.problems[0]


def test_tolerance_rule():
    assert tolerance("omega_max_K", 80.0, 0.0) == pytest.approx(0.8)  # 1 % of the MAE
    assert tolerance("omega_max_K", 10.0, 0.0) == pytest.approx(0.5)  # absolute floor
    assert tolerance("omega_max_K", 10.0, 1.0) == pytest.approx(5.0)  # 5 x spread


def test_overrides():
    s = apply_overrides(PhononSettings(), ["displacement_A=0.03", "relax.fmax_eV_per_A=1"])
    assert s.displacement_A == 0.03 and s.relax.fmax_eV_per_A == 1.0
    assert apply_overrides(PhononSettings(), ["temperatures_K=[0,300]"]).temperatures_K == (
        0.0,
        300.0,
    )
    for bad in ("nope=1", "relax.nope=1", "displacement_A=abc", "relax=3", "novalue"):
        with pytest.raises(ValueError):
            apply_overrides(PhononSettings(), [bad])
    with pytest.raises(ValueError):  # the dataclass's own validation still runs
        apply_overrides(PhononSettings(), ["displacement_A=-0.01"])
