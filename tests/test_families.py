"""Model families on random-weight checkpoints built from the upstream architecture.

Each test builds a checkpoint with the family's own constructor (no download), loads it
through the adapter's normal --checkpoint path and checks energy, forces and stress on a small
periodic cell: finite, right shapes, forces = -dE/dx by central finite differences
(conservative models). Families in their own environment (mace) run there, and a run from
this environment goes through the remote workers into the same store.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.models.envs import env_python, env_ready
from bench.run.runner import RunConfig, run
from bench.run.store import Store

HERE = Path(__file__).resolve().parent / "families"


def _check(python: str, key: str, checkpoint: Path, dtype: str = "") -> dict:
    done = subprocess.run(
        [python, str(HERE / "check_model.py"), key, str(checkpoint), *([dtype] if dtype else [])],
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH-JSON ")), None)
    assert line, done.stderr[-3000:]
    return json.loads(line[len("BENCH-JSON ") :])


def _assert_physical(
    result: dict, checkpoint: Path, fd_forces: str = "equal", batched: bool = True
) -> None:
    """``fd_forces``: "equal" (conservative models) or "differ" (direct models); ``batched``:
    the adapter has a batched force path, which must equal one by one."""
    forces, fd = np.array(result["forces"]), np.array(result["fd_forces"])
    assert result["checkpoint"] == str(checkpoint)
    assert np.isfinite(result["energy"])
    assert forces.shape == (result["n_atoms"], 3) and len(result["stress"]) == 6
    assert np.all(np.isfinite(forces)) and np.all(np.isfinite(result["stress"]))
    assert np.abs(forces).max() > 1e-6  # a rattled cell has forces
    if fd_forces == "equal":
        rel = 1e-3 if result["dtype"] == "float64" else 2e-2  # float32 noise, h = 1e-2 Å
        np.testing.assert_allclose(forces[:3], fd, atol=1e-6 + rel * np.abs(forces).max())
    elif fd_forces == "differ":  # direct models predict forces: not the gradient of their energy
        assert np.abs(forces[:3] - fd).max() > 1e-3
    if not batched:
        assert result["batch_max_diff"] is None
        return
    # batched forces equal one-by-one to numerical precision
    assert result["batch_max_diff"] is not None
    tol = 1e-10 if result["dtype"] == "float64" else 1e-5
    assert result["batch_max_diff"] <= tol


@pytest.fixture(scope="module")
def mace_python() -> str:
    if not env_ready("mace", "mace"):
        pytest.skip("mace environment not created (bench env create mace / make env-mace)")
    return str(env_python("mace"))


@pytest.fixture(scope="module")
def mace_checkpoint(mace_python, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mace") / "mace-random.model"
    done = subprocess.run(
        [mace_python, str(HERE / "build_mace.py"), str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return path


def test_mace_random_checkpoint_loads_and_is_conservative(mace_python, mace_checkpoint):
    result = _check(mace_python, "mace-mpa-0", mace_checkpoint)
    assert result["dtype"] == "float64"  # second-order default
    _assert_physical(result, mace_checkpoint)


def test_mace_runs_from_main_env_into_the_same_store(
    mace_python, mace_checkpoint, shared_data, tmp_path, monkeypatch
):
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    config = RunConfig(
        model="mace-mpa-0",
        task="phonons",
        subset="mdr-smoke",
        materials=("mp-111",),
        checkpoint=str(mace_checkpoint),
        out_dir=str(tmp_path),
        progress=False,
    )
    summary = run(config)  # mace is not importable here: workers run in the mace env
    with Store(tmp_path) as store:
        records = store.records()
    assert summary.model.startswith("mace-mpa-0@")
    assert list(records["material_id"]) == ["mp-111"]
    record = records.iloc[0]
    assert record["status"] == "ok", record["error_message"]
    assert record["ref.omega_max_K"] == pytest.approx(65.41, abs=0.01)  # Ne, DFT side
    assert np.isfinite(record["model.Cv_J_per_K_mol"])
    assert (tmp_path / "workers" / "mace-mpa-0-0.log").is_file()


@pytest.fixture(scope="module")
def esen_python() -> str:
    if not env_ready("fairchem", "fairchem.core, torch_sparse"):
        pytest.skip("fairchem environment not created (bench env create fairchem)")
    return str(env_python("fairchem"))


@pytest.fixture(scope="module")
def esen_checkpoint(esen_python, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("esen") / "esen-random.pt"
    done = subprocess.run(
        [esen_python, str(HERE / "build_esen.py"), str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return path


def test_esen_random_checkpoint_loads_and_is_conservative(esen_python, esen_checkpoint):
    result = _check(esen_python, "esen-30m-oam", esen_checkpoint)
    assert result["dtype"] == "float32"
    _assert_physical(result, esen_checkpoint, batched=False)


def test_esen_runs_from_main_env_into_the_same_store(
    esen_python, esen_checkpoint, shared_data, tmp_path, monkeypatch
):
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    config = RunConfig(
        model="esen-30m-oam",
        task="phonons",
        subset="mdr-smoke",
        materials=("mp-111",),
        checkpoint=str(esen_checkpoint),
        out_dir=str(tmp_path),
        progress=False,
    )
    summary = run(config)  # fairchem is not importable here: workers run in its env
    with Store(tmp_path) as store:
        records = store.records()
    assert summary.model.startswith("esen-30m-oam@")
    record = records.iloc[0]
    assert record["material_id"] == "mp-111"
    # a random model need not relax to 0.005 eV/Å: any recorded outcome is the real path
    assert record["status"] in ("ok", "not_converged"), record["error_message"]
    assert record["ref.omega_max_K"] == pytest.approx(65.41, abs=0.01)


@pytest.fixture(scope="module")
def orb_checkpoints(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("orb_models", reason="orb extra not installed (make install)")
    directory = tmp_path_factory.mktemp("orb")
    out = {}
    for kind in ("direct", "conservative"):
        out[kind] = directory / f"orb-v3-{kind}-random.ckpt"
        done = subprocess.run(
            [sys.executable, str(HERE / "build_orb.py"), kind, str(out[kind])],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_orb_conservative_random_checkpoint(orb_checkpoints):
    result = _check(sys.executable, "orb-v3-conservative-20", orb_checkpoints["conservative"])
    assert result["dtype"] == "float32-highest"  # orb-models' advice for second order
    _assert_physical(result, orb_checkpoints["conservative"])
    exact = _check(
        sys.executable, "orb-v3-conservative-20", orb_checkpoints["conservative"], "float64"
    )
    _assert_physical(exact, orb_checkpoints["conservative"])  # forces = -dE/dx in float64


def test_orb_direct_random_checkpoint(orb_checkpoints):
    result = _check(sys.executable, "orb-v3-direct-20", orb_checkpoints["direct"])
    _assert_physical(result, orb_checkpoints["direct"], fd_forces="differ")


def test_sevennet_mf_ompa_random_checkpoint_with_its_modal(tmp_path):
    pytest.importorskip("sevenn", reason="sevenn extra not installed (make install)")
    path = tmp_path / "sevennet-mf-ompa-random.pth"
    done = subprocess.run(
        [sys.executable, str(HERE / "build_sevenn.py"), str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = _check(sys.executable, "sevennet-mf-ompa", path)  # modal 'mpa' from the catalogue
    assert result["dtype"] == "float32"
    _assert_physical(result, path)
