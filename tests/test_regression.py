"""CI regression of MAEs: rerun every committed baseline (results/baselines/*.json) and fail
when an MAE leaves its tolerance, a material changes status, or settings/data changed.

Regenerate a baseline with the command written in its file when a change is intended."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.models import resolve, unavailable_reason
from bench.report.baselines import baseline_files, check_baseline

BASELINES = baseline_files(Path(__file__).resolve().parents[1] / "results" / "baselines")


def test_baselines_are_committed():
    assert BASELINES, "no baselines under results/baselines"


@pytest.mark.regression
@pytest.mark.parametrize("path", BASELINES, ids=[p.stem for p in BASELINES])
def test_mae_within_baseline_tolerance(path, shared_data):
    doc = json.loads(path.read_text())
    reason = unavailable_reason(resolve(doc["model_requested"]))
    if reason:
        pytest.skip(f"{doc['model_requested']} cannot run here: {reason}")
    result = check_baseline(path, workers=2, data_dir=str(shared_data))
    print(result.report())
    assert result.ok, result.report()
