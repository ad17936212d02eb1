"""Paired comparisons on constructed errors whose answer is known: two models equal but noisy
are not distinguishable, one shifted is better even where the two MAE intervals overlap; the
interval equals a direct resampling of the materials written out here; the table's
paired.csv, its markdown and the site's matrix."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from bench.datasets import resolve_subset
from bench.report.metrics import mean_interval
from bench.report.paired import (
    BETTER,
    SAME,
    WORSE,
    matrix,
    paired_difference,
    paired_table,
    verdict,
)
from bench.report.selection import expected_digest
from bench.report.table import build_table
from bench.run.store import Store

N = 300


def _errors(values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=[f"mp-{i}" for i in range(len(values))])


@pytest.fixture
def base() -> np.ndarray:
    """Per-material absolute errors with a wide spread (as real ones: a few large)."""
    return np.random.default_rng(1).gamma(0.8, 10.0, size=N)


def test_equal_but_noisy_models_are_not_distinguishable(base):
    """b = a ± noise, the noise +δ on half the materials and −δ on the other half: the true
    difference is 0 and the paired interval holds it."""
    noise = np.abs(np.random.default_rng(2).normal(0, 2.0, size=N))
    noise[::2] *= -1
    noise -= noise.mean()  # exactly equal MAEs
    a = base + 10.0  # errors stay positive with the noise
    diff = paired_difference(_errors(a), _errors(a + noise))
    assert diff["n"] == N
    assert diff["delta_lo"] < 0 < diff["delta_hi"]
    assert verdict(diff["delta_lo"], diff["delta_hi"]) == SAME


def test_a_shifted_model_is_better_where_the_two_intervals_overlap(base):
    """b = a + 0.5 on every material: its MAE is 0.5 worse, far inside either model's own
    interval (spread ~10), yet the paired interval excludes 0."""
    noise = np.random.default_rng(3).normal(0, 0.1, size=N)
    a, b = _errors(base), _errors(base + 0.5 + noise)
    own_a, own_b = mean_interval(a.to_numpy()), mean_interval(b.to_numpy())
    assert own_a[1] > own_b[0]  # the unpaired intervals overlap
    diff = paired_difference(a, b)
    assert diff["delta"] == pytest.approx(-0.5 - noise.mean())
    assert diff["delta_hi"] < 0 and diff["delta_hi"] - diff["delta_lo"] < 0.1
    assert verdict(diff["delta_lo"], diff["delta_hi"]) == BETTER
    back = paired_difference(b, a)
    assert verdict(back["delta_lo"], back["delta_hi"]) == WORSE


def test_interval_equals_a_direct_resampling_of_the_materials(base):
    """The paired interval against an independent, written-out bootstrap: draw materials
    with replacement, take both models' MAEs on the same draw, their difference; the 2.5th
    and 97.5th percentiles (another seed, 20,000 draws) agree within a tenth of the width."""
    rng = np.random.default_rng(7)
    a = _errors(base)
    b = _errors(np.abs(base + rng.normal(0.3, 3.0, size=N)))
    b = b.iloc[::-1]  # another order: pairs are matched by material, not by position
    diff = paired_difference(a, b)
    draws = np.random.default_rng(12345)
    ea, eb = a.to_numpy(), b.loc[a.index].to_numpy()
    deltas = []
    for _ in range(20_000):
        idx = draws.integers(0, N, size=N)
        deltas.append(ea[idx].mean() - eb[idx].mean())
    lo, hi = np.percentile(deltas, [2.5, 97.5])
    width = hi - lo
    assert diff["delta"] == pytest.approx(ea.mean() - eb.mean())
    assert abs(diff["delta_lo"] - lo) < 0.1 * width and abs(diff["delta_hi"] - hi) < 0.1 * width
    # and not the unpaired interval, which is much wider here
    unpaired = np.sqrt(ea.var() / N + eb.var() / N) * 2 * 1.96
    assert width < 0.5 * unpaired


def _records(errors: dict[str, dict[str, float]], failed: set[tuple[str, str]]) -> pd.DataFrame:
    rows = []
    for model, per_material in errors.items():
        for material, error in per_material.items():
            bad = (model, material) in failed
            rows.append(
                {
                    "model": model,
                    "task": "elasticity",
                    "material_id": material,
                    "status": "failed" if bad else "ok",
                    "model.K_GPa": np.nan if bad else 100.0 + error,
                    "ref.K_GPa": 100.0,
                }
            )
    return pd.DataFrame(rows)


def test_every_two_models_on_the_materials_both_have_ok():
    ids = [f"mp-{i}" for i in range(40)]
    errors = {
        "m1": {m: 1.0 + (i % 3) for i, m in enumerate(ids)},
        "m2": {m: 3.0 + (i % 3) for i, m in enumerate(ids)},
        "m3": {m: 1.0 + ((i + 1) % 3) for i, m in enumerate(ids)},
    }
    records = _records(errors, failed={("m2", "mp-0"), ("m3", "mp-1")})
    paired = paired_table(records, {"K_GPa": ("elasticity", "s")}, ["m1", "m2", "m3"])
    assert list(zip(paired["model_a"], paired["model_b"], strict=True)) == [
        ("m1", "m2"),
        ("m1", "m3"),
        ("m2", "m3"),
    ]
    assert paired["n"].tolist() == [39, 39, 38]  # a failure leaves its material out
    assert paired["verdict"].tolist()[0] == BETTER and paired["delta"].iloc[0] == -2.0
    models, cells = matrix(paired, "K_GPa")
    assert models == ["m1", "m2", "m3"]
    assert cells[("m2", "m1")]["verdict"] == WORSE and cells[("m2", "m1")]["delta"] == 2.0


def _elastic(model: str, material_id: str, digest: str, error: float) -> dict:
    return {
        "model": model,
        "task": "elasticity",
        "dataset": "mp-binary-pbe-elasticity-2025.1",
        "material_id": material_id,
        "settings_digest": digest,
        "status": "ok",
        "values": {"K_GPa": 100.0 + error, "G_GPa": 50.0 + error, "positive_definite": True},
        "ref": {"K_GPa": 100.0, "G_GPa": 50.0},
        "details": {},
        "timings_s": {"relax": 1.0},
        "wall_s": 1.0,
    }


def test_table_writes_paired_csv_markdown_and_the_site_matrix(tmp_path, shared_data):
    """Two models on the whole of elastic-smoke, one 5 GPa worse everywhere: paired.csv,
    bench table's output and the site's matrix say which is better."""
    from bench.cli import main

    _, ids = resolve_subset("elastic-smoke")
    digest = expected_digest("chgnet", "elasticity", "mp-binary-pbe-elasticity-2025.1")
    with Store(tmp_path / "runs") as store:
        run_id = store.start_run({"settings_digest": digest}, {})
        for i, material_id in enumerate(ids):
            store.write(_elastic("chgnet-0.3.0", material_id, digest, 1.0 + i % 4), run_id)
            store.write(_elastic("7net-0", material_id, digest, 6.0 + i % 4), run_id)
    out = tmp_path / "table"
    args = ["table", "--runs", str(tmp_path / "runs"), "--out", str(out), "--recorded-only"]
    assert main([*args, "--phonon-subset", "none", "--quiet"]) == 0
    paired = pd.read_csv(out / "paired.csv")
    assert set(paired["property"]) == {"K_GPa", "G_GPa"}
    row = paired[paired["property"] == "K_GPa"].iloc[0]
    assert {row["model_a"], row["model_b"]} == {"chgnet-0.3.0", "7net-0"} and row["n"] == len(ids)
    assert abs(row["delta"]) == pytest.approx(5.0) and row["verdict"] in (BETTER, WORSE)
    md = (out / "table2.md").read_text()
    assert re.search(r"K \[GPa\] on `elastic-smoke`: .* \(n = 20\): chgnet-0\.3\.0 better", md)
    build_table([tmp_path / "runs"])  # the default subsets still build
    from bench.report.site import build_site

    site = tmp_path / "site"
    build_site([tmp_path / "runs"], site, data_dir=shared_data)
    html = (site / "index.html").read_text()
    body = re.search(r'<table id="paired-smoke-K_GPa".*?</table>', html, re.S).group(0)
    assert body.count('class="better"') == 1 and body.count('class="worse"') == 1
    assert "Which is better" in html
