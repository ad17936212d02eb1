"""The torch-sim engine's batched phases (bench.engines.batched) under the guards of one
material's run: a phase that fails (model code that raises, exits or panics in it, the batch's
time limit) is the recorded failure of each material in it, replayed without computing again."""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import pytest
import torch
from ase.calculators.emt import EMT

pytest.importorskip("torch_sim")

from bench.engines import batched, tsmodel
from bench.models import load_model
from bench.physics.elasticity import ElasticSettings
from bench.run.config import Job
from tests.test_engines import AseModel

ELASTIC = "mp-binary-pbe-elasticity-2025.1"
#: CuAu and CuPd: EMT relaxes both, so both reach the single points
PAIR = ["mp-522", "mp-1018029"]


class Panic(BaseException):
    """A library's BaseException (as pyo3's PanicException)."""


def fail(how: str) -> None:
    """Model code failing as ``how`` says: raise, sys.exit, os._exit, panic or hang."""
    if how == "raise":
        raise RuntimeError("no single points today")
    if how == "sys.exit":
        sys.exit(3)
    if how == "os._exit":
        os._exit(3)
    if how == "panic":
        raise Panic("thread 'main' panicked")
    time.sleep(60)  # "hang": the time limit ends it


class FailingModel(AseModel):
    """EMT through torch-sim that fails as ``how`` says once ``failing`` is set, counting its
    calls."""

    def __init__(self, calc, how: str) -> None:
        super().__init__(calc)
        self.how, self.failing, self.calls = how, False, 0

    def forward(self, state) -> dict[str, torch.Tensor]:
        self.calls += 1
        if self.failing:
            fail(self.how)
        return super().forward(state)


class LiveEMT(EMT):
    """The loaded model's own calculator (what a material's task run would compute with
    live): the same model, so it fails as ``model`` does; counts its calculations."""

    def __init__(self, model: FailingModel) -> None:
        super().__init__()
        self.model, self.calls = model, 0

    def calculate(self, *args, **kwargs) -> None:
        self.calls += 1
        if self.model.failing:
            fail(self.model.how)
        super().calculate(*args, **kwargs)


#: a batched phase (as :func:`batched.guarded_phase` names it) -> the function that runs it
PHASES = {"relaxations": "relax_batch", "single points": "evaluate_batch"}


def _run_failing(how, shared_data, monkeypatch, phase="single points", timeout_s=None):
    """:func:`batched.run_batched` of :data:`PAIR` with a model that fails as ``how`` says
    from ``phase`` on (after relaxing both, for the single points): (records, the torch-sim
    model, the loaded model's calculator, the model's calls when the phase ended)."""
    fake = FailingModel(EMT(), how)
    monkeypatch.setitem(tsmodel.ADAPTERS, "emt", lambda model: fake)
    monkeypatch.setattr(batched, "_DRIVERS", {})  # not an earlier test's driver of the EMT model
    real, ended = getattr(batched, PHASES[phase]), []

    def failing_phase(*args):
        fake.failing = True
        try:
            return real(*args)
        finally:
            ended.append(fake.calls)

    monkeypatch.setattr(batched, PHASES[phase], failing_phase)
    live = LiveEMT(fake)
    model = dataclasses.replace(load_model("emt"), calculator=live)
    settings = ElasticSettings(engine="torch-sim")
    job = Job("elasticity", ELASTIC, settings, shared_data, timeout_s=timeout_s)
    records = list(batched.run_batched(job, model, "emt", PAIR))
    return records, fake, live, ended[0]


@pytest.mark.parametrize(
    ("how", "error_type", "words"),
    [
        ("raise", "ModelError", "the model raised RuntimeError: no single points today"),
        ("sys.exit", "SystemExit", "the model's code called sys.exit(3)"),
        ("os._exit", "ModelExit", "the model's code called os._exit(3)"),
        ("panic", "Panic", "Panic: thread 'main' panicked"),
    ],
)
def test_a_single_points_failure_is_each_materials_failure_without_computing_again(
    how, error_type, words, shared_data, monkeypatch
):
    """Both relaxations succeed, then the model raises, exits or panics in the single
    points: each material's record is that failure, and the model is not called again."""
    records, fake, live, phase_calls = _run_failing(how, shared_data, monkeypatch)
    assert [r["material_id"] for r in records] == PAIR
    for record in records:
        assert (record["status"], record["error_type"]) == ("failed", error_type)
        assert record["error_message"] == words
        assert record["details"]["engine"]["computed_live"] == 0
    assert fake.calls == phase_calls and live.calls == 0  # no call after the phase


@pytest.mark.parametrize("phase", ["relaxations", "single points"])
def test_the_batch_time_limit_ends_a_phase_and_times_out_each_material(
    phase, shared_data, monkeypatch
):
    """The model hangs in a phase: the phase ends at the batch's limit (the time limit per
    material times the 2 materials), though the engine retries a batch that raised one by
    one; each material is a timeout, and none is computed again."""
    t0 = time.perf_counter()
    records, fake, live, phase_calls = _run_failing(
        "hang", shared_data, monkeypatch, phase, timeout_s=1.5
    )
    assert time.perf_counter() - t0 < 12.0  # the limit (3 s), the relaxations, the records
    for record in records:
        assert (record["status"], record["error_type"]) == ("timeout", "MaterialTimeout")
        assert record["error_message"] == f"the batched {phase} did not finish within 3 s"
    assert fake.calls == phase_calls and live.calls == 0


@pytest.mark.slow  # torch-sim's import and a run (~10 s on a busy 2-core machine)
@pytest.mark.parametrize("how", ["sys.exit", "os._exit"])
def test_model_code_that_exits_in_a_batch_is_each_materials_failure(
    how, shared_data, tmp_path, monkeypatch
):
    """The batched phases run model code under the same guards as one material's: an exit in
    a batch is recorded as every one of its materials' failure, and the run ends normally."""
    from bench.report.loading import load_records
    from bench.run.runner import RunConfig, run

    def exiting(model):
        fake = FailingModel(model.calculator, how)
        fake.failing = True
        return fake

    monkeypatch.setitem(tsmodel.ADAPTERS, "emt", exiting)
    monkeypatch.setattr(batched, "_DRIVERS", {})  # not an earlier test's driver of the EMT model
    config = RunConfig(
        model="emt",
        task="elasticity",
        subset="elastic-tests",
        materials=("mp-522", "mp-2534"),
        engine="torch-sim",
        data_dir=str(shared_data),
        out_dir=str(tmp_path / "ts"),
        progress=False,
    )
    summary = run(config)
    assert summary.counts == {"failed": 2}
    records = load_records([tmp_path / "ts"])[0].set_index("material_id")
    for material in ("mp-522", "mp-2534"):
        assert f"{how}(3)" in records.loc[material, "error_message"]
