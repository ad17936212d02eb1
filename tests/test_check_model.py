"""``bench check-model`` and ``bench.testing``: the contract passes for EMT and an own factory,
and fails for a calculator whose forces are 2 × (−dE/dx)."""

from __future__ import annotations

import pytest
from ase.calculators.emt import EMT
from conftest import ScaledEMT

from bench.cli import main
from bench.testing import assert_model_contract, check_model

DOUBLED = """
from ase.calculators.emt import EMT


class Doubled(EMT):
    def calculate(self, *args, **kwargs):
        super().calculate(*args, **kwargs)
        self.results["forces"] = 2 * self.results["forces"]
"""


def test_emt_meets_the_contract():
    checks = assert_model_contract(EMT())
    judged = {c.name: c.passed for c in checks if c.passed is not None}
    assert all(judged.values()) and "forces = −dE/dx (cell 1)" in judged
    assert "energy invariant under rotation" in judged and "forces rotate with the cell" in judged


def test_scaled_forces_and_stress_fail():
    failed = {c.name for c in check_model(ScaledEMT(2.0)) if c.passed is False}
    assert {"forces = −dE/dx (cell 1)", "stress = (1/V) dE/dε (cell 1)"} <= failed
    with pytest.raises(AssertionError, match="FAIL"):
        assert_model_contract(ScaledEMT(2.0))


def test_check_model_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "doubled_calc.py").write_text(DOUBLED)
    assert main(["check-model", "emt"]) == 0
    assert "passed:" in capsys.readouterr().out
    assert main(["check-model", "doubled_calc:Doubled"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "forces = −dE/dx" in out and "FAILED: 2 of" in out
