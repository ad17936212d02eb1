"""A model that cannot load fails before any store exists, in seconds, in one line (exit 1);
``bench models`` says where each model's weights are; ``bench table --run`` fails when a
requested model could not run."""

from __future__ import annotations

import time

import pytest

import bench.models.weights as weights
from bench.cli import main
from bench.models import resolve
from bench.models.weights import missing_message, weights_status


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, no download caches, no $BENCH_CHECKPOINTS."""
    monkeypatch.setattr(weights, "reachable", lambda url, timeout_s=3.0: False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BENCH_CHECKPOINTS", raising=False)


def test_orb_without_weights_fails_in_seconds_with_no_store(offline, shared_data, tmp_path, capsys):
    out = tmp_path / "orb"
    argv = ["run", "--model", "orb-v3-direct-20", "--task", "elasticity"]
    argv += ["--subset", "elastic-smoke", "--materials", "mp-1000", "--out", str(out)]
    start = time.monotonic()
    code = main([*argv, "--data-dir", str(shared_data)])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and elapsed < 20, (code, elapsed)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert not out.exists()
    if "cannot run here" not in lines[0]:  # orb-models installed: the weights are missing
        assert "orb-v3-direct-20-omat-20250404.ckpt" in lines[0]
        assert "https://" in lines[0] and "$BENCH_CHECKPOINTS" in lines[0]
        assert "--checkpoint" in lines[0] and ".cache/orb" in lines[0]


def test_weights_status_words(offline, tmp_path, monkeypatch):
    orb = resolve("orb-v3-direct-20")
    assert weights_status(orb).state == "missing (offline)"
    assert weights_status(resolve("emt")).state == "none needed"
    monkeypatch.setattr(weights, "reachable", lambda url, timeout_s=3.0: True)
    assert weights_status(orb).state == "will download"
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / orb.checkpoint).write_bytes(b"x")
    monkeypatch.setenv("BENCH_CHECKPOINTS", str(tmp_path / "ckpt"))
    status = weights_status(orb)
    assert status.state == "local" and status.path == tmp_path / "ckpt" / orb.checkpoint
    assert orb.url in missing_message(orb)


def test_reachable_gives_up_quickly():
    start = time.monotonic()
    assert weights.reachable("https://host.invalid/x.ckpt", 1.0) is False
    assert time.monotonic() - start < 5


def test_table_run_fails_when_a_requested_model_cannot(offline, shared_data, tmp_path, capsys):
    runs, data = str(tmp_path / "r"), ["--data-dir", str(shared_data)]
    emt = ["run", "--model", "emt", "--task", "elasticity", "--materials", "mp-10903"]
    assert main([*emt, "--out", runs, "--quiet", *data]) == 0
    argv = ["table", "--run", "--models", "orb-v3-direct-20", "--runs", runs, "--quiet", *data]
    argv += ["--out", str(tmp_path / "tab"), "--phonon-subset", "elastic-smoke"]
    assert main(argv) == 1
    assert "could not run" in capsys.readouterr().err
    assert not (tmp_path / "tab").exists()
    assert main([*argv, "--allow-missing"]) == 0
    assert (tmp_path / "tab" / "table2.md").is_file()
