"""Protocols against their sources' own code, per material; the MAE and its interval.

matcalc is a dependency, so bench's ``matcalc`` protocols are compared with matcalc's own
``PhononCalc`` and ``ElasticityCalc`` built exactly as its benchmark builds them
(``PhononBenchmark.get_prop_calc``, ``ElasticityBenchmark.get_prop_calc``).
"""

from __future__ import annotations

import importlib.util
import inspect
import json

import numpy as np
import pandas as pd
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from bench.datasets import get_dataset, load_elastic_reference, load_phonon_reference
from bench.models import load_model
from bench.physics.elasticity import ElasticSettings, run_elasticity
from bench.physics.phonons import run_phonons
from bench.protocols import (
    MATCALC_PHONONS,
    default_protocol,
    effective_settings,
    protocol_settings,
)
from bench.report.metrics import mae_table, mean_interval
from bench.settings import PhononSettings, settings_digest

CV = "alexandria-binary-pbe-phonon-2025.1"
ELASTIC = "mp-binary-pbe-elasticity-2025.1"
needs_chgnet = pytest.mark.skipif(
    importlib.util.find_spec("chgnet") is None, reason="chgnet not installed"
)


#: the lines of matcalc 0.7.0 benchmark.py that build each calculator (its module imports
#: matminer, which bench does not need, so the test reads the lines instead of importing it)
BENCHMARK_LINES = {
    "phonon": "return PhononCalc(calculator, fmax=0.05, write_phonon=False, **kwargs)",
    "elastic_fmax": 'kwargs.setdefault("fmax", 0.05)',
    "elastic_units": 'kwargs.setdefault("units_GPa", True)',
}


def _benchmark_calc(kind: str, calculator):
    """matcalc's own calculator, built as matcalc's benchmark.py ``get_prop_calc`` builds it."""
    from matcalc import ElasticityCalc, PhononCalc

    if kind == "phonon":
        return PhononCalc(calculator, fmax=0.05, write_phonon=False)
    return ElasticityCalc(calculator, fmax=0.05, units_GPa=True)


def test_benchmark_builds_its_calculators_as_the_tests_do():
    from pathlib import Path

    spec = importlib.util.find_spec("matcalc")
    source = (Path(spec.submodule_search_locations[0]) / "benchmark.py").read_text()
    for line in BENCHMARK_LINES.values():
        assert line in source
    assert 'result["thermal_properties"]["heat_capacity"][30]' in source


def test_matcalc_phonon_protocol_copies_phononcalc_defaults():
    """Every MATCALC_PHONONS field equals the PhononCalc/RelaxCalc default it cites."""
    from matcalc import PhononCalc, RelaxCalc

    phonon = {k: v.default for k, v in inspect.signature(PhononCalc).parameters.items()}
    relax = {k: v.default for k, v in inspect.signature(RelaxCalc).parameters.items()}
    s = MATCALC_PHONONS
    assert s.displacement_A == phonon["atom_disp"]
    assert s.supercell_min_length_A == phonon["min_length"]
    assert s.phonopy_symprec == phonon["symprec"]
    assert s.relax.steps_per_pass == phonon["max_steps"]
    assert s.relax.optimizer == phonon["optimizer"]
    t = np.arange(phonon["t_min"], phonon["t_max"] + phonon["t_step"] / 2, phonon["t_step"])
    assert s.temperatures_K == tuple(float(x) for x in t)
    assert s.temperatures_K[30] == s.report_temperature_K  # benchmark: heat_capacity[30]
    assert s.relax.fix_symmetry == relax["fix_symmetry"]
    assert s.relax.cell_filter == relax["cell_filter"].__name__
    calc = _benchmark_calc("phonon", EMT())
    assert s.relax.fmax_eV_per_A == calc.fmax and calc.write_phonon == ""


def test_datasets_default_to_their_sources_protocol():
    assert default_protocol("phonons", "mdr-pbe") == "mdr"
    assert default_protocol("phonons", CV) == "matcalc"
    assert default_protocol("elasticity", ELASTIC) == "matcalc"
    cv = effective_settings("chgnet", "phonons", CV)
    assert cv.protocol == "matcalc" and cv.dtype == "float32"
    mdr = effective_settings("chgnet", "phonons", "mdr-pbe", protocol="matcalc")
    assert settings_digest(mdr) == settings_digest(cv)
    assert effective_settings("chgnet", "phonons", "mdr-pbe") == PhononSettings(dtype="float32")
    # the protocol name is hashed: same numbers under another name are other records
    renamed = effective_settings("chgnet", "phonons", CV, base=PhononSettings(protocol="x"))
    assert settings_digest(renamed) != settings_digest(PhononSettings(dtype="float32"))


def test_settings_that_change_nothing_are_gone_and_dtype_is_effective():
    assert not hasattr(PhononSettings(), "supercell_rule")
    s = effective_settings("7net-0", "phonons", CV, overrides=("dtype=float32",))
    assert s.dtype == "float32"
    with pytest.raises(Exception, match="supports dtype"):
        effective_settings("chgnet", "phonons", CV, overrides=("dtype=float16",))
    with pytest.raises(Exception, match="--protocol"):
        effective_settings("chgnet", "phonons", CV, overrides=("protocol=mdr",))
    with pytest.raises(Exception, match="unknown protocol"):
        protocol_settings("phonons", "phonondb")


@pytest.mark.slow
@needs_chgnet
def test_matcalc_phonon_protocol_matches_phononcalc(shared_data):
    """bench's matcalc protocol vs matcalc's PhononCalc (as PhononBenchmark calls it) on KI:
    Cv, S, F at 300 K to 1e-3 of the value, same supercell of the relaxed cell."""
    from pymatgen.core import Structure

    from bench.datasets.matcalc import load_entries

    model = load_model("chgnet", device="cpu")
    ref = load_phonon_reference(CV, "mp-22898", shared_data)
    ours = run_phonons(ref, model, effective_settings("chgnet", "phonons", CV))
    structure = Structure.from_dict(load_entries(CV, shared_data)["mp-22898"]["structure"])
    theirs = _benchmark_calc("phonon", model.calculator).calc(structure)
    tp = theirs["thermal_properties"]
    i = list(tp["temperatures"]).index(300.0)
    assert i == 30
    assert ours["n_displacements"] == len(theirs["disp_supercells"])
    for key, name in (
        ("Cv_J_per_K_mol", "heat_capacity"),
        ("S_J_per_K_mol", "entropy"),
        ("F_kJ_per_mol", "free_energy"),
    ):
        assert ours["values"][key] == pytest.approx(float(tp[name][i]), rel=1e-3, abs=1e-3)


@pytest.mark.slow
@needs_chgnet
def test_matcalc_elastic_protocol_matches_elasticitycalc(shared_data):
    """bench's elasticity vs matcalc's ElasticityCalc (as ElasticityBenchmark calls it):
    K and G to 1e-3 of the value, on two materials of elastic-smoke."""
    from pymatgen.core import Structure

    from bench.datasets.matcalc import load_entries

    model = load_model("chgnet", device="cpu")
    settings = effective_settings("chgnet", "elasticity", ELASTIC)
    entries = load_entries(ELASTIC, shared_data)
    for material_id in ("mp-1001826", "mp-2534"):
        ours = run_elasticity(
            load_elastic_reference(ELASTIC, material_id, shared_data).structure, model, settings
        )
        calc = _benchmark_calc("elastic", model.calculator)
        theirs = calc.calc(Structure.from_dict(entries[material_id]["structure"]))
        assert ours["values"]["K_GPa"] == pytest.approx(
            theirs["bulk_modulus_vrh"], rel=1e-3, abs=1e-3
        )
        assert ours["values"]["G_GPa"] == pytest.approx(
            theirs["shear_modulus_vrh"], rel=1e-3, abs=1e-3
        )


def test_emt_elastic_matches_matcalc_benchmark_calc():
    """The same comparison with EMT copper (no model package needed)."""
    theirs = _benchmark_calc("elastic", EMT()).calc(bulk("Cu", "fcc", a=3.62))
    ours = run_elasticity(bulk("Cu", "fcc", a=3.62), load_model("emt"), ElasticSettings())
    assert ours["values"]["K_GPa"] == pytest.approx(theirs["bulk_modulus_vrh"], rel=1e-3)
    assert ours["values"]["G_GPa"] == pytest.approx(theirs["shear_modulus_vrh"], rel=1e-3)


def _records(model_values, ref_values, status=None, flags=None) -> pd.DataFrame:
    n = len(model_values)
    frame = pd.DataFrame(
        {
            "model": "m",
            "task": "elasticity",
            "dataset": ELASTIC,
            "settings_digest": "d",
            "material_id": [f"mp-{i}" for i in range(n)],
            "status": status or ["ok"] * n,
            "model.K_GPa": model_values,
            "ref.K_GPa": ref_values,
        }
    )
    if flags is not None:
        frame["model.positive_definite"] = flags
    return frame


def test_mae_is_the_plain_mean_over_finite_rows():
    rng = np.random.default_rng(3)
    pred, dft = rng.normal(100, 30, 40), rng.normal(100, 30, 40)
    pred[[2, 7]] = np.nan  # failed calculations (MatCalc: NaN)
    pred[5] = np.inf
    flags = rng.random(40) > 0.2
    status = ["ok"] * 40
    status[9] = "failed"
    row = mae_table(_records(pred, dft, status, flags), ("K_GPa",)).iloc[0]
    finite = np.isfinite(pred) & np.isfinite(dft) & (np.arange(40) != 9)
    assert row["K_GPa"] == pytest.approx(np.abs(pred - dft)[finite].mean(), rel=1e-12)
    assert row["n_K_GPa"] == finite.sum() == 36
    assert row["n_not_pd"] == int((~flags & (np.arange(40) != 9)).sum())
    stable = finite & flags
    assert row["K_GPa.stable"] == pytest.approx(np.abs(pred - dft)[stable].mean(), rel=1e-12)
    assert row["K_GPa.lo"] < row["K_GPa"] < row["K_GPa.hi"]


def test_bootstrap_interval_covers_the_true_mean():
    """95 % intervals on samples of a known distribution (|N(0, 1)|, mean sqrt(2/pi)) contain
    the mean in 90–99 % of 400 trials; the interval is seeded, so it is reproducible."""
    true_mean = np.sqrt(2 / np.pi)
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(400):
        sample = np.abs(rng.normal(size=60))
        lo, hi = mean_interval(sample, resamples=1000)
        hits += lo <= true_mean <= hi
    assert 0.90 <= hits / 400 <= 0.99
    sample = np.abs(rng.normal(size=60))
    assert mean_interval(sample) == mean_interval(sample)
    assert np.isnan(mean_interval(np.array([1.0]))).all()


def test_summary_prints_intervals(tmp_path, capsys):
    from bench.cli import main
    from bench.run.store import Store

    with Store(tmp_path) as store:
        run_id = store.start_run(
            {"settings_digest": "abc", "model": "emt"}, {"protocol": "matcalc"}
        )
        for i, (m, r) in enumerate([(10.0, 12.0), (20.0, 19.0), (30.0, 33.0)]):
            store.write(
                {
                    "model": "emt",
                    "task": "elasticity",
                    "dataset": ELASTIC,
                    "material_id": f"mp-{i}",
                    "settings_digest": "abc",
                    "status": "ok",
                    "error_type": None,
                    "error_message": None,
                    "values": {"K_GPa": m, "G_GPa": m, "positive_definite": i != 1},
                    "ref": {"K_GPa": r, "G_GPa": r},
                    "details": {},
                    "timings_s": {},
                    "wall_s": 1.0,
                },
                run_id,
            )
    assert main(["summary", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "matcalc" in out and "K_GPa (n=3)" in out and "2.00 [" in out
    assert "not pd" in out


def test_dataset_basis_is_declared():
    assert get_dataset(CV).basis == "cell" and get_dataset("mdr-pbe").basis == "primcell"
    assert json.loads(json.dumps(MATCALC_PHONONS.temperatures_K))[30] == 300.0


def test_interval_does_not_depend_on_row_order():
    values = np.abs(np.random.default_rng(5).normal(size=50))
    assert mean_interval(values) == mean_interval(values[::-1])
