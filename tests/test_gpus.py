"""GPUs for workers without a GPU: ``BENCH_TEST_GPUS`` makes GPUs "visible"; the environment
each worker process starts with, the plan of ``--dry-run`` (which creates nothing), and CUDA
out of memory as one material's failure."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import ConfigurationError
from bench.models.devices import FAKE_GPUS_ENV, is_out_of_memory
from bench.run import envworker
from bench.run.config import Job, RunConfig, prepare
from bench.run.gpus import gpu_env, parse_gpus, run_gpus, worker_gpus
from bench.run.plan import plan
from bench.run.pool import WorkerEnvContext
from bench.run.runner import run
from bench.run.store import Store

torch = pytest.importorskip("torch")

#: EMT knows CuPd and AlPt of elastic-smoke; mp-1000 has elements it does not (a ModelError)
CUPD, ALPT, OTHER = "mp-1018029", "mp-10903", "mp-1000"

#: EMT that runs the "GPU" out of memory on any structure with platinum
OOM_FACTORY = """
import torch
from ase.calculators.emt import EMT


class OomEMT(EMT):
    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        if atoms is not None and "Pt" in atoms.get_chemical_symbols():
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if system_changes is None:
            super().calculate(atoms, properties)
        else:
            super().calculate(atoms, properties, system_changes)


def make():
    return OomEMT()
"""


def test_workers_are_spread_round_robin_each_started_with_its_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")  # the parent's GPUs 0, 1 are 4, 5
    envs = [gpu_env(gpu) for gpu in worker_gpus((0, 1), 4)]
    context = WorkerEnvContext(envs)
    seen = tmp_path / "seen"
    # a target the spawned process imports nothing for (fast): it writes its environment
    write = f'echo "$CUDA_VISIBLE_DEVICES $BENCH_WORKER_GPU" >> {seen}'
    for _ in range(4):  # as the pool starts its workers, one after the other
        process = context.Process(target=os.system, args=(write,))
        process.start()
        process.join()
    assert seen.read_text().split("\n")[:4] == ["4 0", "5 1", "4 0", "5 1"]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "4,5"  # the parent's own is back
    assert "BENCH_WORKER_GPU" not in os.environ


def test_family_environment_workers_get_their_gpu(monkeypatch, shared_data, tmp_path):
    monkeypatch.setenv(FAKE_GPUS_ENV, "2")
    started = []

    class Popen:
        def __init__(self, command, **kwargs):
            started.append(kwargs["env"])

    monkeypatch.setattr(envworker.subprocess, "Popen", Popen)
    config = RunConfig(model="emt", device="cuda", workers=3, out_dir=str(tmp_path))
    _, dataset, ids, settings = prepare(config)
    slots = envworker._Slots(config, Job.of(config, dataset, settings), "py", "emt", ids, 1)
    for n in range(3):
        slots.start(n)
    assert [env["CUDA_VISIBLE_DEVICES"] for env in started] == ["0", "1", "0"]
    assert "--device" in slots.command and "cuda" in slots.command


def test_gpus_checked_against_device_and_machine(monkeypatch):
    assert parse_gpus("0, 2") == (0, 2)
    for bad in ("0,0", "a", "", "-1"):
        with pytest.raises(ConfigurationError, match="--gpus"):
            parse_gpus(bad)
    monkeypatch.setenv(FAKE_GPUS_ENV, "2")
    assert run_gpus("cuda", None) == (0, 1)  # default: every visible GPU
    assert run_gpus("auto", None) == (0, 1)
    assert run_gpus("cuda:1", None) is None  # one device, as given: unchanged
    assert run_gpus("cpu", None) is None
    with pytest.raises(ConfigurationError, match="sees 2 GPUs"):
        run_gpus("cuda", (0, 2))
    with pytest.raises(ConfigurationError, match="needs --device cuda"):
        run_gpus("cpu", (0,))
    monkeypatch.setenv(FAKE_GPUS_ENV, "0")
    assert run_gpus("auto", None) is None  # a CPU machine: nothing changes
    assert run_gpus("cuda", (0, 1), planning=True) == (0, 1)  # a plan for another machine
    with pytest.raises(ConfigurationError, match="no CUDA device"):
        run_gpus("cuda", (0, 1))


def test_dry_run_plans_two_workers_per_gpu_and_creates_nothing(shared_data, tmp_path, capsys):
    out = tmp_path / "never" / "made"
    argv = ["run", "--model", "emt", "--subset", "mdr-smoke", "--device", "cuda"]
    argv += ["--gpus", "0,1", "--workers", "4", "--dry-run", "--out", str(out)]
    assert main([*argv, "--data-dir", str(shared_data)]) == 0
    text = capsys.readouterr().out
    workers = [line for line in text.splitlines() if line.strip().startswith("worker ")]
    assert sum("on cuda:0 (CUDA_VISIBLE_DEVICES=0)" in w for w in workers) == 2
    assert sum("on cuda:1 (CUDA_VISIBLE_DEVICES=1)" in w for w in workers) == 2
    assert "estimated wall time: unknown" in text
    assert not (tmp_path / "never").exists()


def _elastic(tmp_path: Path, shared_data: Path, **extra) -> RunConfig:
    return RunConfig(
        model="emt",
        task="elasticity",
        subset="elastic-smoke",
        out_dir=str(tmp_path / "out"),
        data_dir=str(shared_data),
        progress=False,
        **extra,
    )


@pytest.mark.slow
def test_dry_run_counts_what_the_store_has_and_leaves_it_as_it_was(shared_data, tmp_path):
    run(_elastic(tmp_path, shared_data, materials=(ALPT, OTHER)))  # one ok, one failed
    store = tmp_path / "out" / "bench.sqlite"
    before = (store.read_bytes(), sorted(p.name for p in store.parent.iterdir()))
    planned = plan(_elastic(tmp_path, shared_data, materials=(CUPD, ALPT, OTHER), workers=2))
    assert planned.todo == [CUPD] and planned.n_done == 1 and planned.n_failed_kept == 1
    assert planned.estimate_s is not None and planned.estimate_s > 0
    assert planned.workers == ["this process on cpu"]  # one left: one worker, in-process
    retry = plan(_elastic(tmp_path, shared_data, materials=(ALPT, OTHER), retry_failures=True))
    assert retry.todo == [OTHER] and retry.n_failed_kept == 0
    assert (store.read_bytes(), sorted(p.name for p in store.parent.iterdir())) == before


@pytest.mark.slow
def test_pool_workers_record_their_gpu_and_the_manifest_names_them(
    shared_data, tmp_path, monkeypatch
):
    monkeypatch.setenv(FAKE_GPUS_ENV, "2")  # inherited by the spawned workers
    config = _elastic(tmp_path, shared_data, materials=(CUPD, ALPT), device="cuda", workers=2)
    run(config)
    with Store(tmp_path / "out") as store:
        details = [r["details"] for r in store.raw_records()]
        manifest = store.manifests()[-1]
    assert manifest["worker_gpus"] == ["cuda:0", "cuda:1"]
    for detail in details:  # each worker saw only its own GPU
        assert detail["cuda_visible_devices"] == str(detail["gpu"]) and detail["gpu"] in (0, 1)
        assert detail["device"] == "cpu"  # EMT runs on the CPU whatever it is given


def test_out_of_memory_is_recognised_through_the_model_error():
    from bench.errors import ModelError

    try:
        try:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20 MiB")
        except RuntimeError as err:
            raise ModelError("the model raised OutOfMemoryError") from err
    except ModelError as wrapped:
        assert is_out_of_memory(wrapped)
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(MemoryError())  # the host's: WorkerDied or MemoryError


@pytest.mark.parametrize(
    ("workers", "isolate"),
    [
        (1, False),
        pytest.param(1, True, marks=pytest.mark.slow),
        pytest.param(2, True, marks=pytest.mark.slow),
    ],
)
def test_out_of_memory_is_that_materials_failure_and_the_worker_goes_on(
    shared_data, tmp_path, monkeypatch, workers, isolate
):
    """In this process, one worker process (isolated) or two: the platinum material runs out
    of memory twice (batched, then alone one structure per call) and is recorded as
    OutOfMemory; the materials around it are recorded as usual by the same workers (none
    died)."""
    lab = tmp_path / "lab"
    lab.mkdir()
    name = f"oompot_{workers}{isolate}_{abs(hash(str(tmp_path))) % 10**8}"
    (lab / f"{name}.py").write_text(OOM_FACTORY)
    monkeypatch.syspath_prepend(str(lab))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(lab), *sys.path]))
    config = _elastic(
        tmp_path, shared_data, materials=(ALPT, CUPD, OTHER), isolate=isolate, workers=workers
    )
    summary = run(RunConfig(**{**config.__dict__, "model": f"{name}:make"}))
    with Store(tmp_path / "out") as store:
        rows = {r["material_id"]: r for r in store.raw_records()}
    assert rows[ALPT]["error_type"] == "OutOfMemory"
    assert "also alone with one structure per model call" in rows[ALPT]["error_message"]
    assert rows[CUPD]["status"] == "ok"
    assert rows[OTHER]["error_type"] == "ModelError"  # EMT's own failure, not a dead worker
    assert "WorkerDied" not in summary.errors


def test_a_material_that_fits_alone_is_ok_after_one_out_of_memory(shared_data):
    from ase.calculators.emt import EMT

    from bench.models.loaded import LoadedModel
    from bench.tasks import Material, run_one

    class OnceOom(EMT):
        raised = False

        def calculate(self, *args, **kwargs):
            if not OnceOom.raised:
                OnceOom.raised = True
                raise torch.cuda.OutOfMemoryError("CUDA out of memory")
            super().calculate(*args, **kwargs)

    model = LoadedModel(key="once", calculator=OnceOom(), device="cpu", dtype="float64")
    _, dataset, _, settings = prepare(_elastic(Path("/nonexistent"), shared_data))
    record = run_one("elasticity", model, Material(dataset, ALPT, shared_data), settings)
    assert record["status"] == "ok" and record["details"]["oom_retried"] is True


def test_speed_gpu_without_a_gpu_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(FAKE_GPUS_ENV, "0")
    assert main(["speed", "gpu", "--model", "emt", "--out", str(tmp_path / "speed")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "has none" in err
    assert not (tmp_path / "speed").exists()


def test_speed_gpu_writes_its_csv_and_readme_section(shared_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(FAKE_GPUS_ENV, "1")
    out = tmp_path / "speed"
    out.mkdir()
    (out / "README.md").write_text("# Forward time\n\nkept as it is\n")
    argv = ["speed", "gpu", "--model", "emt", "--limit", "1", "--out", str(out)]
    argv += ["--data-dir", str(shared_data)]
    assert main(argv) == 0
    import pandas as pd

    from bench.speed.gpu import readme_section, write_readme

    frame = pd.read_csv(out / "gpu.csv")
    assert len(frame) == 2 and set(frame["subset"]) == {"mdr-smoke", "elastic-smoke"}
    assert set(frame["engine"]) == {"ase"} and set(frame["gpu"]) == {"test GPU"}
    assert frame["n_materials"].tolist() == [1, 1]
    write_readme(out / "README.md", readme_section(frame, "again"))  # replaces the section
    readme = (out / "README.md").read_text()
    assert readme.startswith("# Forward time\n\nkept as it is\n")
    assert readme.count("# One GPU (`bench speed gpu`)") == 1
    assert "| emt | ase | elasticity, elastic-smoke (0/1 ok) |" in readme
    assert main([*argv, "--engine", "warp"]) == 2  # an engine bench run does not have


def test_table_run_dry_run_plans_each_run_and_writes_nothing(shared_data, tmp_path, capsys):
    argv = ["table", "--run", "--models", "emt", "--runs", str(tmp_path / "runs")]
    argv += ["--out", str(tmp_path / "results"), "--data-dir", str(shared_data)]
    assert main([*argv, "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert text.count("plan: emt ") == 2 and "dry run: nothing was run" in text
    assert list(tmp_path.iterdir()) == []
    assert main(["table", "--dry-run", "--runs", str(tmp_path)]) == 2  # needs --run


@pytest.mark.slow
def test_dask_local_cluster_workers_hold_one_gpu_each(shared_data, tmp_path, monkeypatch):
    """The local Dask cluster of a GPU run: one worker per --gpus slot, each started with its
    own CUDA_VISIBLE_DEVICES and the resource GPU=1 that every task asks for."""
    pytest.importorskip("dask.distributed")
    from bench.run.dask_executor import _resources

    monkeypatch.setenv(FAKE_GPUS_ENV, "2")
    config = _elastic(
        tmp_path, shared_data, materials=(CUPD, ALPT), device="cuda", workers=2, executor="dask"
    )
    assert _resources(config) == {"GPU": 1}
    assert _resources(_elastic(tmp_path, shared_data, device="cpu", executor="dask")) is None
    assert run(config).counts == {"ok": 2}
    with Store(tmp_path / "out") as store:
        details = [r["details"] for r in store.raw_records()]
    for detail in details:
        assert detail["cuda_visible_devices"] == str(detail["gpu"]) and detail["gpu"] in (0, 1)
