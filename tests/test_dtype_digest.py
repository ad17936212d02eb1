"""The settings digest does not depend on how the dtype was named: a factory that chooses its own
precision (``native``) is hashed under the precision it computes in (its torch weights' dtype;
``float64`` for a numpy calculator such as EMT), so an own factory of float32 weights shares the
digest of a catalogue model run in float32, in this process and in its workers; the report takes
those records as the model's default ones; committed records keep their digests."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench.datasets import resolve_subset
from bench.report.selection import expected_digest
from bench.report.table import build_table
from bench.run.config import Job
from bench.run.runner import RunConfig, run
from bench.run.store import Store
from bench.settings import dict_digest

ELASTIC = "mp-binary-pbe-elasticity-2025.1"
RECORDS = Path(__file__).resolve().parents[1] / "results" / "records"

#: an ASE calculator around a torch module: EMT's numbers, torch weights of the chosen dtype
TORCH_FACTORY = '''
import torch
from ase.calculators.emt import EMT


class TorchEMT(EMT):
    """EMT holding a torch network (its weights' dtype is what bench reads)."""

    def __init__(self, dtype="float32"):
        super().__init__()
        self.net = torch.nn.Linear(2, 1).to(getattr(torch, dtype))


def make():
    """No dtype argument: the weights' own precision (float32)."""
    return TorchEMT()


def make_dtype(dtype=None):
    """A dtype argument: float32 unless one is asked for."""
    return TorchEMT(dtype or "float32")
'''


@pytest.fixture
def torchpot(factory_folder) -> str:
    """The name of a module holding ``TORCH_FACTORY`` in the current folder."""
    pytest.importorskip("torch")
    here, name = factory_folder
    module = f"torch{name}"
    (here / f"{module}.py").write_text(TORCH_FACTORY)
    return module


def _config(model: str, out: Path, materials: tuple[str, ...] = ("mp-188",), **extra) -> RunConfig:
    options = {"materials": materials, "progress": False, **extra}
    return RunConfig(
        model=model, task="elasticity", subset="elastic-full", out_dir=str(out), **options
    )


def _digests(out: Path) -> set[str]:
    with Store(out) as store:
        return set(store.records()["settings_digest"])


def test_a_float32_torch_factory_shares_the_digest_of_float32_settings(torchpot, tmp_path):
    out = tmp_path / "runs"
    summary = run(_config(f"{torchpot}:make", out))
    assert summary.counts == {"ok": 1}
    chgnet = expected_digest("chgnet", "elasticity", ELASTIC)  # catalogue chgnet: float32
    assert summary.settings_digest == chgnet
    assert _digests(out) == {chgnet}  # the records', as the run computed them
    with Store(out) as store:
        manifest = store.manifests()[-1]
        assert store.settings_for(chgnet)["dtype"] == "float32"
    assert manifest["dtype"] == "float32" and manifest["dtype_requested"] == "native"


def test_an_emt_factory_is_float64(own_emt, tmp_path):
    out = tmp_path / "runs"
    summary = run(_config(f"{own_emt}:make", out))
    assert summary.settings_digest == expected_digest("emt", "elasticity", ELASTIC)
    with Store(out) as store:
        assert store.manifests()[-1]["dtype"] == "float64"


@pytest.fixture
def own_emt(factory_folder) -> str:
    return factory_folder[1]


def test_the_job_carries_the_load_dtype_to_other_environments():
    from bench.protocols import effective_settings

    settings = effective_settings("chgnet", "elasticity", ELASTIC)
    job = Job("elasticity", ELASTIC, settings, load_dtype="native")
    back = Job.from_json(json.loads(json.dumps(job.to_json())))
    assert back == job and back.model_dtype == "native" and back.settings.dtype == "float32"
    assert Job("elasticity", ELASTIC, settings).model_dtype == "float32"


@pytest.mark.slow  # two worker processes
def test_pool_workers_hash_the_resolved_dtype(torchpot, tmp_path):
    out = tmp_path / "runs"
    summary = run(_config(f"{torchpot}:make", out, materials=("mp-188", "mp-361"), workers=2))
    assert summary.counts == {"ok": 2}
    assert _digests(out) == {expected_digest("chgnet", "elasticity", ELASTIC)}


def test_the_table_takes_the_resolved_default_and_not_a_dtype_study(
    torchpot, tmp_path, shared_data
):
    out = tmp_path / "runs"
    model = f"{torchpot}:make_dtype"
    run(_config(model, out))  # its default: float32, resolved
    run(_config(model, out, materials=("mp-361",), dtype="float64"))  # a --dtype study
    assert len(_digests(out)) == 2
    table = build_table([out], subsets={"elasticity": "elastic-full"}, recorded_only=True)
    row = table.frame.set_index("model").loc[model]
    full = resolve_subset("elastic-full", shared_data)[1]
    assert row["elasticity.n_missing"] == len(full) - 1  # the default run's material
    taken = pd.concat([table.records, table.unscored])  # too few for an MAE: coverage only
    assert set(taken[taken["model"] == model]["material_id"]) == {"mp-188"}


def test_committed_chgnet_records_keep_their_digest():
    folder = RECORDS / "chgnet-0.3.0" / "elasticity" / ELASTIC
    committed = {p.name: p for p in folder.iterdir() if p.is_dir()}
    digest = expected_digest("chgnet", "elasticity", ELASTIC)
    assert digest in committed
    settings = json.loads((committed[digest] / "settings.json").read_text())
    assert dict_digest(settings) == digest and settings["dtype"] == "float32"
