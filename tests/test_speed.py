"""bench speed forward: rows, files and the cell builder (timings are never asserted)."""

from __future__ import annotations

import pandas as pd

from bench.speed import speed_cell, time_forward, write_forward


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
