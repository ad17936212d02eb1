"""``bench check-model --timeout SECONDS`` bounds loading the model and its checks together,
here and in a model's own environment (its import check included), and takes only a finite
number of seconds; a factory that never returns is one ``bench: error:`` line, exit 1."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from bench import limits
from bench.cli import main
from bench.models import ownenv
from bench.models.registry import resolve_device
from bench.run import answer as answer_module
from bench.run.answer import Answer

ROOT = Path(__file__).resolve().parents[1]

SLOW = '''
import time

from ase.calculators.emt import EMT


class Slow(EMT):
    """EMT taking ``pause`` seconds per call."""

    def __init__(self, pause):
        super().__init__()
        self.pause = pause

    def calculate(self, *args, **kwargs):
        time.sleep(self.pause)
        super().calculate(*args, **kwargs)


def make(load=0.0, pause=0.0, hang=False, say=""):
    time.sleep(10**6 if hang else load)
    if say:
        import sys

        print(say, file=sys.stderr)
    return Slow(pause)
'''


@pytest.fixture
def slow(tmp_path, monkeypatch) -> str:
    """A module of the ``SLOW`` factory in the current folder (a unique name): its name."""
    name = f"slowpot_{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / f"{name}.py").write_text(SLOW)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


@pytest.mark.parametrize("timeout", ["inf", "-inf", "1e9", "-1", "nan", "1e400"])
def test_a_timeout_that_is_no_finite_time_is_one_line(timeout, capsys):
    assert main(["check-model", "emt", f"--timeout={timeout}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--timeout" in err[0] and "Traceback" not in err[0], err


@pytest.mark.parametrize(("timeout", "load"), [(2.0, 0.8), (3.0, 1.5)])
def test_loading_and_the_checks_share_one_time_limit(slow, monkeypatch, capsys, timeout, load):
    """Each limit set while loading and checking ends by the time the first began plus
    ``--timeout``; checks slower than what loading left are one FAILED line."""
    resolve_device("auto")  # torch imported (outside any limit) before the clock starts
    started: list[tuple[float, float | None]] = []
    real = limits.time_limit

    def recorded(seconds, error):
        started.append((time.monotonic(), seconds))
        return real(seconds, error)

    monkeypatch.setattr(limits, "time_limit", recorded)
    argv = ["check-model", f"{slow}:make", "--model-arg", f"load={load}", "--model-arg"]
    code = main([*argv, "pause=0.3", "--timeout", f"{timeout:g}"])
    out = capsys.readouterr().out
    assert code == 1 and f"FAILED: the checks did not finish within {timeout:g} s" in out, out
    assert len(started) == 2, started
    first = started[0][0]
    assert all(at + seconds <= first + timeout + 0.05 for at, seconds in started), started


def test_no_timeout_is_no_limit_on_either(slow, monkeypatch, capsys):
    seen = []
    real = limits.time_limit
    monkeypatch.setattr(limits, "time_limit", lambda s, e: seen.append(s) or real(s, e))
    assert main(["check-model", f"{slow}:make", "--timeout", "0"]) == 0, capsys.readouterr()
    assert seen == [None, None]


@pytest.mark.parametrize("timeout", [0.0, 5.0, 60.0])
def test_an_own_environment_gets_what_is_left_of_the_timeout(
    slow, tmp_path, monkeypatch, capsys, timeout
):
    """The import check and the checks in the model's own interpreter: both within one
    ``--timeout`` (0: the import check's own limit, none on the checks)."""
    asked: list[tuple[float, float | None]] = []

    def fake(command, timeout_s, label, doing=""):
        asked.append((time.monotonic(), timeout_s))
        if command[1] == "-c":  # the import check
            time.sleep(0.2)
            return Answer({"python": "3", "bench": sys.modules["bench"].__version__}, "")
        return Answer({"checks": [], "device": "cpu", "dtype": "float64"}, "")

    monkeypatch.setattr(ownenv, "ask", fake)
    monkeypatch.setattr(answer_module, "ask", fake)
    monkeypatch.setattr(ownenv, "_CHECKED", set())
    (tmp_path / "models.yml").write_text(
        f"own:\n  import: {slow}:make\n  python: {sys.executable}\n"
    )
    argv = ["check-model", "own", "--models-file", "models.yml", "--timeout", f"{timeout:g}"]
    assert main(argv) == 0, capsys.readouterr()
    (first, check_limit), (second, rest) = asked
    if not timeout:
        assert check_limit == ownenv.CHECK_TIMEOUT_S and rest is None
    else:
        assert check_limit <= min(timeout, ownenv.CHECK_TIMEOUT_S)
        assert second + rest <= first + timeout + 0.01 and rest < timeout - 0.15, asked


def test_a_factory_that_never_returns_in_its_own_environment_is_one_line(
    slow, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT)]))
    monkeypatch.setattr(ownenv, "_CHECKED", set())
    (tmp_path / "models.yml").write_text(
        f"own:\n  import: {slow}:make\n  python: {sys.executable}\n  kwargs: {{hang: true}}\n"
    )
    began = time.monotonic()
    code = main(["check-model", "own", "--models-file", "models.yml", "--timeout", "6"])
    out = capsys.readouterr()
    assert time.monotonic() - began < 6 + 3, "the interpreter was not stopped in time"
    lines = out.err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and "gave no answer within" in lines[0], out
    assert "bench.run.remote" in lines[0] and "--timeout" in lines[0], lines


def test_what_a_factory_prints_in_its_own_environment_is_shown(slow, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT)]))
    monkeypatch.setattr(ownenv, "_CHECKED", set())
    (tmp_path / "models.yml").write_text(
        f"own:\n  import: {slow}:make\n  python: {sys.executable}\n"
        '  kwargs: {say: "hello\\e]0;pwned\\a from the model"}\n'
    )
    assert main(["check-model", "own", "--models-file", "models.yml"]) == 0
    out = capsys.readouterr().out
    assert "  (model output) hello\\x1b]0;pwned\\x07 from the model\n" in out, out
