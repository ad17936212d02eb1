"""``bench.benchmark``: a factory, a class, a calculator instance (one worker only), a catalogue
key; one row per material; the same store and resume as ``bench run``."""

from __future__ import annotations

import pytest
from ase.calculators.emt import EMT

import bench
from bench.errors import ConfigurationError
from bench.run.store import Store

MATERIALS = ["mp-188", "mp-361"]


@pytest.fixture
def data(monkeypatch, shared_data):
    monkeypatch.setenv("BENCH_DATA", str(shared_data))


def _run(model, out, **options):
    options = {"task": "elasticity", "subset": "elastic-full", "materials": MATERIALS, **options}
    return bench.benchmark(model, out=str(out), progress=False, **options)


def test_factory_class_and_instance_give_the_catalogue_numbers(data, tmp_path):
    catalogue = _run("emt", tmp_path / "runs")
    assert list(catalogue["material_id"]) == MATERIALS and set(catalogue["status"]) == {"ok"}
    assert {"model.K_GPa", "ref.K_GPa", "model.G_GPa", "ref.G_GPa"} <= set(catalogue.columns)
    columns = ["material_id", "status", "model.K_GPa", "model.G_GPa"]
    for model, name in ((EMT, "emt-class"), (EMT(), "emt-instance"), (lambda: EMT(), "emt-f")):
        frame = _run(model, tmp_path / "runs", name=name)
        assert frame[columns].equals(catalogue[columns]), name
    with Store(tmp_path / "runs") as store:
        labels = set(store.records()["model"])
    assert labels == {"emt", "emt-class", "emt-instance", "emt-f"}


def test_a_second_call_resumes(data, tmp_path):
    first = _run(EMT, tmp_path / "runs", name="mine")
    with Store(tmp_path / "runs") as store:
        n_runs = len(store.manifests())
    again = _run(EMT, tmp_path / "runs", name="mine")
    assert again.equals(first)
    with Store(tmp_path / "runs") as store:  # a run with nothing to do: no new record
        assert len(store.records()) == len(MATERIALS) and len(store.manifests()) == n_runs + 1


def test_an_instance_or_a_local_factory_cannot_go_to_workers(data, tmp_path):
    with pytest.raises(ConfigurationError, match="instance cannot go to other processes"):
        _run(EMT(), tmp_path / "runs", name="x", workers=2)
    with pytest.raises(ConfigurationError, match="cannot import"):
        _run(lambda: EMT(), tmp_path / "runs", name="y", workers=2)
    assert not (tmp_path / "runs").exists()


def test_an_unknown_option_is_one_error_naming_the_accepted_ones(tmp_path):
    """``quiet=True`` (the command line's --quiet) or a typo: one ConfigurationError with a
    hint and the accepted options, never RunConfig's TypeError; nothing is created."""
    out = tmp_path / "runs"
    with pytest.raises(ConfigurationError, match="unknown option 'quiet'") as err:
        bench.benchmark(EMT, name="x", task="elasticity", out=str(out), quiet=True)
    assert "progress=False" in str(err.value) and "retry_failures" in str(err.value)
    with pytest.raises(ConfigurationError, match=r"'chekpoint' \(did you mean checkpoint\?"):
        bench.benchmark(EMT, name="x", task="elasticity", out=str(out), chekpoint="w.pt")
    with pytest.raises(ConfigurationError, match=r"did you mean out="):
        bench.benchmark(EMT, name="x", task="elasticity", out_dir=str(out))
    with pytest.raises(ConfigurationError, match=r"options 'quiet' \(.*\), 'treads' \(") as err:
        bench.benchmark(EMT, name="x", task="elasticity", quiet=True, treads=1)
    assert "takes model, name, task, subset, materials, out, workers and " in str(err.value)
    assert not out.exists()
