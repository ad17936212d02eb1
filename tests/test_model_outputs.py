"""A model that returns the wrong shapes (forces (n, 2), stress of 5, energy per atom, text) fails
the material it returned them for, saying what it returned: the run goes on, the failure is
recorded, and bench does not blame itself (it stopped the run with "a bug in bench?")."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes

from bench.errors import ModelError
from bench.models import LoadedModel
from bench.models.outputs import check_batch, check_results
from bench.physics.elasticity import ElasticSettings
from bench.run.config import RunConfig
from bench.run.runner import prepare
from bench.settings import PhononSettings
from bench.tasks import run_one
from bench.tasks.base import Material

#: result key -> a wrong value for a structure of n atoms
WRONG = {
    "forces": lambda n: np.zeros((n, 2)),
    "stress": lambda n: np.zeros(5),
    "energy": lambda n: np.zeros(n),
    "free_energy": lambda n: "text",
}


class Misshapen(Calculator):
    """EMT's numbers (zeros where EMT has no parameters) with ``key`` replaced by a wrong
    value on structures of more than ``above`` atoms."""

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, key: str, above: int = 0) -> None:
        super().__init__()
        self.key, self.above = key, above

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        n = len(self.atoms)
        self.results = {
            "energy": 0.0,
            "free_energy": 0.0,
            "forces": np.zeros((n, 3)),
            "stress": np.zeros(6),
        }
        if n > self.above:
            self.results[self.key] = WRONG[self.key](n)


@pytest.mark.parametrize("key", sorted(WRONG))
def test_check_results_names_the_key_and_shapes(key):
    results = {"energy": 0.0, "forces": np.zeros((4, 3)), "stress": np.zeros((3, 3))}
    check_results(results, 4)  # right shapes (a 3x3 stress too): nothing
    results[key] = WRONG[key](4)
    with pytest.raises(ModelError, match=key):
        check_results(results, 4)


def test_check_batch_wants_one_n_by_3_array_per_structure():
    structures = [bulk("Cu"), bulk("Cu", cubic=True)]
    check_batch(structures, [np.zeros((1, 3)), np.zeros((4, 3))])
    for wrong in ([np.zeros((1, 3))], [np.zeros((1, 3)), np.zeros((4, 2))], None):
        with pytest.raises(ModelError, match="batched forces"):
            check_batch(structures, wrong)


@pytest.mark.parametrize("key", ["forces", "energy"])
def test_wrong_shapes_in_the_phonon_pipeline_are_the_materials_failure(shared_data, key):
    _, dataset, ids, _ = prepare(
        RunConfig(model="emt", subset="mdr-smoke", data_dir=str(shared_data))
    )
    model = LoadedModel(key="m", calculator=Misshapen(key), device="cpu", dtype="float64")
    record = run_one("phonons", model, Material(dataset, ids[0], shared_data), PhononSettings())
    assert record["status"] == "failed"
    assert record["error_type"] == "ModelError"
    assert f"returned {key} of shape" in record["error_message"]


def test_wrong_stress_in_the_elastic_pipeline_is_the_materials_failure(shared_data):
    _, dataset, ids, _ = prepare(
        RunConfig(model="emt", subset="elastic-smoke", data_dir=str(shared_data))
    )
    model = LoadedModel(key="m", calculator=Misshapen("stress"), device="cpu", dtype="float64")
    material = Material(dataset, ids[0], shared_data)
    record = run_one("elasticity", model, material, ElasticSettings())
    assert (record["status"], record["error_type"]) == ("failed", "ModelError")
    assert "returned stress of shape (5,)" in record["error_message"]


def test_wrong_batched_forces_are_the_materials_failure(shared_data):
    """The batched path: a batch that returns wrong shapes is redone one by one (as one that
    raises), and the calculator's own wrong shapes then fail the material."""
    _, dataset, ids, _ = prepare(
        RunConfig(model="emt", subset="mdr-smoke", data_dir=str(shared_data))
    )
    calc = Misshapen("forces", above=10**6)  # right shapes one by one ...

    def batch(structures):  # ... wrong ones batched
        return [np.zeros((len(a), 2)) for a in structures]

    model = LoadedModel(key="m", calculator=calc, device="cpu", dtype="float64")
    model.batch_forces = batch
    material = Material(dataset, ids[0], shared_data)
    with pytest.warns(RuntimeWarning, match="batched forces returned shape"):
        record = run_one("phonons", model, material, PhononSettings())
    assert record["status"] == "ok", record  # one by one, the calculator's are right
    assert model.batch_forces is batch  # the check is gone with the material's clock


def test_nested_clocks_check_each_result_once(monkeypatch):
    """A relaxation's clock inside the material's: each evaluation is timed by both and its
    results checked once (by the outer)."""
    from ase.calculators.emt import EMT

    import bench.models.timing as timing

    seen = []
    monkeypatch.setattr(timing, "check_results", lambda results, n: seen.append(n))
    model = LoadedModel(key="m", calculator=EMT(), device="cpu", dtype="float64")
    atoms = bulk("Cu", cubic=True)
    with timing.model_clock(model) as outer, timing.model_clock(model) as inner:
        atoms.calc = model.calculator
        atoms.get_forces()
    assert seen == [4] and outer.calls == inner.calls == 1
