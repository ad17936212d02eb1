"""bench speed forward: rows, files and the cell builder (timings are never asserted)."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.speed.forward import speed_cell, time_forward, write_forward


def test_cells_have_about_the_asked_size():
    assert len(speed_cell(64)) == 64 and set(speed_cell(64).get_chemical_symbols()) == {"Na", "Cl"}
    assert len(speed_cell(1000)) == 1000
    assert set(speed_cell(32, "emt").get_chemical_symbols()) == {"Cu"}


def test_forward_rows_and_files(tmp_path):
    rows = time_forward("emt", sizes=(8, 32), repeats=2)
    assert [r["n_atoms"] for r in rows] == [4, 32]
    assert all(r["seconds_per_call"] > 0 and r["dtype"] == "float64" for r in rows)
    paths = write_forward(rows, tmp_path, "bench speed forward --model emt")
    write_forward(rows, tmp_path, "again")  # appends
    frame = pd.read_csv(tmp_path / "forward.csv")
    assert len(frame) == 4 and set(frame["command"]) == {"bench speed forward --model emt", "again"}
    assert paths[1].stat().st_size > 0


def test_model_clock_counts_calls_and_detaches():
    from ase.build import bulk

    from bench.models import load_model
    from bench.models.timing import model_clock

    model = load_model("emt")
    atoms = bulk("Cu", "fcc", a=3.6) * (2, 2, 2)
    atoms.rattle(0.05, seed=0)
    atoms.calc = model.calculator
    with model_clock(model) as clock:
        atoms.get_forces()
        atoms.get_stress()  # EMT computes stress with the forces: cached, no second call
        atoms.positions[0, 0] += 0.01
        atoms.get_forces()
    assert clock.calls == 2 and clock.seconds > 0
    assert "calculate" not in vars(model.calculator)  # the class method is back
    with model_clock(model) as outer:  # clocks nest: both count, the outer one survives
        with model_clock(model) as inner:
            atoms.positions[0, 0] += 0.01
            atoms.get_forces()
        atoms.positions[0, 0] += 0.01
        atoms.get_forces()
    assert (inner.calls, outer.calls) == (1, 2)
    assert "calculate" not in vars(model.calculator)
    atoms.positions[0, 0] += 0.01
    atoms.get_forces()
    assert clock.calls == 2


@pytest.mark.slow
def test_pipeline_split_and_batching_rows(shared_data, tmp_path):
    pytest.importorskip("chgnet", reason="chgnet extra not installed")
    from bench.speed.plots import pipeline_summary, plot_pipeline
    from bench.speed.throughput import time_batching, time_pipeline

    rows = time_pipeline(
        model="chgnet", task="phonons", subset="mdr-smoke", limit=1, data_dir=str(shared_data)
    )
    (row,) = rows
    assert row["status"] == "ok" and row["model_calls"] > 2  # relaxation steps + displacements
    assert 0 < row["model_s"] < row["wall_s"]
    assert row["harness_s"] == pytest.approx(row["wall_s"] - row["model_s"])
    assert row["relax_s"] + row["forces_s"] + row["phonopy_s"] <= row["wall_s"]
    summary = pipeline_summary(pd.DataFrame(rows))
    assert summary.loc[0, "materials"] == 1 and summary.loc[0, "ok"] == 1
    assert 0 < summary.loc[0, "model_share_pct"] < 100
    batching = time_batching(model="chgnet", subset="mdr-smoke", limit=2, data_dir=str(shared_data))
    assert [r["material_id"] for r in batching] == ["mp-111", "mp-1000"]  # both, in order
    assert all(r["max_force_diff_eV_per_A"] < 1e-4 and r["speedup"] > 0 for r in batching)
    (chosen,) = time_batching(  # bench speed --materials (a list: how it arrives over JSON)
        model="chgnet", subset="mdr-smoke", materials=["mp-1000"], data_dir=str(shared_data)
    )
    assert chosen["material_id"] == "mp-1000" and chosen["n_supercells"] == 2
    png = plot_pipeline(pd.DataFrame(rows), pd.DataFrame(batching), tmp_path / "p.png")
    assert png.stat().st_size > 0


@pytest.mark.slow
def test_client_memory_samples_a_real_run(shared_data, tmp_path):
    from bench.speed.memory import client_memory

    rows = client_memory(
        "emt",
        "elasticity",
        "elastic-smoke",
        str(tmp_path),
        workers=1,
        every=5,
        data_dir=str(shared_data),
    )
    assert [r["records"] for r in rows] == [0, 5, 10, 15, 20, 20]
    assert all(r["client_rss_MB"] > 10 for r in rows)
    assert (tmp_path / "bench.sqlite").is_file()  # the run really stored its records


@pytest.mark.slow
def test_sharing_runs_concurrent_runs_per_thread_count(shared_data, tmp_path, monkeypatch):
    """``bench speed sharing``: the runs really run (a failing one raises), one row per thread
    count (all cores per run, then cores / runs), appended to sharing.csv with the command."""
    import os
    import sys

    from bench.cli import main

    args = ["speed", "sharing", "--model", "emt", "--task", "elasticity"]
    args += ["--subset", "elastic-tests", "--limit", "1", "--data-dir", str(shared_data)]
    args += ["--out", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", ["bench", *args])  # the command the rows record
    assert main(args) == 0
    frame = pd.read_csv(tmp_path / "sharing.csv")
    cores = os.cpu_count() or 1
    assert list(frame["threads_per_run"]) == list(dict.fromkeys((cores, max(1, cores // 2))))
    assert (frame["runs"] == 2).all() and (frame["n_materials"] == 1).all()
    assert (frame["wall_s"] > 0).all() and (frame["command"] == f"bench {' '.join(args)}").all()

    from bench.speed.sharing import time_sharing

    with pytest.raises(RuntimeError, match="sharing run failed"):
        time_sharing("no-such-model", "elasticity", "elastic-tests", limit=1)


@pytest.mark.slow
def test_force_memory_rows_come_from_fresh_processes(tmp_path, monkeypatch):
    import sys

    from bench.cli import main

    monkeypatch.setattr(sys, "argv", ["bench", "speed", "forces", "--model", "emt"])
    args = ["speed", "forces", "--model", "emt", "--sizes", "8", "256", "--out", str(tmp_path)]
    assert main(args) == 0
    rows = pd.read_csv(tmp_path / "forces.csv")
    assert list(rows["path"]) == ["adapter", "calculator"] * 2
    assert list(rows["n_atoms"]) == [4, 4, 256, 256]  # fcc Cu cells for EMT
    assert (rows["peak_MB"] > rows["added_MB"]).all() and (rows["added_MB"] >= 0).all()
    # a fresh interpreter per row: the peaks are not this test process's own
    from bench.models.timing import peak_rss_mb

    assert not (rows["peak_MB"] == peak_rss_mb()).any()


def _peak_records(points, extra=()):
    import json

    rows = [
        {
            "material_id": f"m{i}",
            "status": "ok",
            "details_json": json.dumps({"n_atoms_supercell": n, "material_peak_rss_MB": mb}),
        }
        for i, (n, mb) in enumerate(points)
    ]
    return pd.DataFrame(rows + [dict(r) for r in extra])


def test_peak_envelope_bounds_every_measured_material():
    import json

    from bench.batching import MAX_BATCH_ATOMS
    from bench.run.schedule import RESERVED_MB
    from bench.speed.peaks import envelope, measure, peak_rows

    # small supercells are batched to MAX_BATCH_ATOMS per call; the 700-atom one is dense
    points = [(100, 900.0), (500, 1900.0), (700, 6000.0), (1200, 3300.0), (2000, 6100.0)]
    # a record from before the per-material peak: only the worker's, left out
    old = {"material_id": "old", "status": "ok"}
    old["details_json"] = json.dumps({"n_atoms_supercell": 50, "worker_peak_rss_MB": 9e4})
    records = _peak_records(points, [old])
    rows = peak_rows(records)
    assert list(rows["material_id"]) == [f"m{i}" for i in range(len(points))]
    base, per_atom = envelope(rows)
    assert base == 900.0 and per_atom == pytest.approx((6000 - 900) / 700)  # the densest
    assert all(base + per_atom * max(n, MAX_BATCH_ATOMS) >= mb - 1e-9 for n, mb in points)
    table, fit = measure(records, 24_000)
    assert table["n"].sum() == len(points) and fit["n_records"] == len(points)
    assert fit["alone_above_atoms"] == round(((24_000 - RESERVED_MB) / 2 - base) / per_atom)
    with pytest.raises(ValueError, match="two supercell sizes"):
        envelope(peak_rows(_peak_records([(100, 900.0)])))


@pytest.mark.slow
def test_speed_peaks_reads_a_run_and_writes_its_rows(shared_data, tmp_path, capsys):
    from bench.cli import main

    store, out = tmp_path / "store", tmp_path / "speed"
    argv = ["run", "--model", "emt", "--task", "phonons", "--subset", "cv-binary-1170"]
    argv += ["--materials", "mp-1591,mp-27253", "--out", str(store), "--quiet"]
    assert main([*argv, "--data-dir", str(shared_data)]) == 0  # EMT: 56- and 640-atom cells
    assert (
        main(["speed", "peaks", "--model", "emt", "--records", str(store), "--out", str(out)]) == 0
    )
    frame = pd.read_csv(out / "peaks.csv")
    assert frame["n"].sum() == 2 and (frame["model"] == "emt").all()
    assert frame["command"].str.contains("speed peaks").all()
    peaks = ["speed", "peaks", "--model", "emt", "--records", str(store), "--out", str(out)]
    for window in (["--until", "2000-01-01"], ["--since", "2999-01-01 00:00"]):  # none made then
        assert main([*peaks, *window]) == 2
    assert main([*peaks, "--since", "2000-01-01 00:00+01:00", "--until", "2999-01-01"]) == 0
    assert pd.read_csv(out / "peaks.csv")["n"].sum() == 4  # both records, twice now
    assert main([*peaks, "--until", "yesterday"]) == 2
    assert "not an ISO time" in capsys.readouterr().err
    assert main(["speed", "peaks", "--model", "chgnet", "--records", str(store)]) == 2
    assert "chgnet" in capsys.readouterr().err


def test_matcalc_loop_is_the_call_benchs_matcalc_protocol_copies(shared_data):
    """``bench speed matcalc`` builds PhononCalc as matcalc's benchmark.py does (the call
    MATCALC_PHONONS copies), refuses another protocol, and names both in its rows."""
    from bench.errors import ConfigurationError
    from bench.models import load_model
    from bench.settings import PhononSettings
    from bench.speed.matcalc_loop import phonon_calc, time_matcalc
    from bench.tasks.phonons import MATCALC_PHONONS

    calc, call = phonon_calc(load_model("emt"), MATCALC_PHONONS)
    assert calc.fmax == 0.05 and not calc.write_phonon  # matcalc keeps False as ""
    assert call == "PhononCalc(calculator, fmax=0.05, write_phonon=False)"
    with pytest.raises(ConfigurationError, match="--protocol matcalc"):
        phonon_calc(load_model("emt"), PhononSettings())  # mdr: matcalc has no such call
    (row,) = time_matcalc(  # AlPt: EMT elements only
        model="emt",
        task="elasticity",
        subset="elastic-smoke",
        materials=("mp-10903",),
        data_dir=str(shared_data),
    )
    assert row["protocol"] == "matcalc" and row["matcalc_call"].startswith("ElasticityCalc(")
    assert row["status"] == "ok" and 0 < row["model_s"] < row["wall_s"]
    assert row["K_GPa"] == pytest.approx(170.8, abs=0.5) and row["G_GPa"] > 0  # AlPt, EMT
