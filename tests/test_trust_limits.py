"""Model code is untrusted too (issue 34): loading a model, ``check-model`` and evaluation
have time limits, and ``sys.exit``, ``os._exit`` or a library's BaseException in a model's
code is the material's recorded failure or one line, never a silent exit, a traceback or a
run that waits for ever."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from bench import limits
from bench.cli import main
from tests.test_trust import _one_line
from tests.test_trust_print import EVIL_MODULE, PAYLOAD

ELASTIC = ["--task", "elasticity", "--materials", "mp-10903", "--quiet"]

SLOW_MODULE = '''
import sys
import time

from ase.calculators.emt import EMT


def make(mode="hang"):
    if mode == "hang":
        time.sleep(10**6)
    if mode == "exit":
        sys.exit(3)
    return EMT()


def flat(mode="shape"):
    """EMT whose forces have the wrong shape."""
    calc = EMT()
    calculate = calc.calculate

    def wrong(*args, **kwargs):
        calculate(*args, **kwargs)
        calc.results["forces"] = calc.results["forces"][:1]

    calc.calculate = wrong
    return calc
'''


@pytest.fixture
def lab(tmp_path, monkeypatch, shared_data) -> str:
    """The current folder, holding the slow and the evil factory modules: their prefix."""
    name = f"limits_{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / f"{name}_slow.py").write_text(SLOW_MODULE)
    (tmp_path / f"{name}_evil.py").write_text(EVIL_MODULE.format(payload=PAYLOAD))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    return name


def test_the_exit_guard_raises_in_its_thread_only():
    with pytest.raises(limits.ModelExit), limits.exits_guarded():
        os._exit(5)
    assert os._exit.__name__ == "_exit"  # the real one is back
    assert limits.escaped_words(SystemExit(3)) == "the model's code called sys.exit(3)"
    assert limits.escaped_words(KeyboardInterrupt()) is None
    assert limits.escaped_words(ValueError("x")) is None


def _python(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True
    )


def test_the_exit_guard_lets_another_thread_and_a_forked_child_exit():
    thread = _python(
        """
        import os, threading, time
        from bench import limits
        with limits.exits_guarded():
            threading.Thread(target=os._exit, args=(7,)).start()
            time.sleep(60)
        """
    )
    try:
        assert thread.wait(timeout=60) == 7
    finally:
        thread.kill()  # another thread's os._exit is the real one
    forked = _python(
        """
        import os
        from bench import limits
        with limits.exits_guarded():
            pid = os.fork()
            if pid == 0:
                os._exit(5)
            print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        """
    )
    assert forked.communicate(timeout=60)[0].split() == ["5"]  # so is a forked child's


def test_a_third_signal_leaves_even_while_model_code_swallows_the_stop():
    child = _python(
        """
        import time
        from bench import cli, limits
        cli._stop_on_sigterm()
        with limits.exits_guarded():  # model code that swallows every stop
            ready = False
            while True:  # only the first stop raises (KeyboardInterrupt): raised at the
                try:  # inner loops' jumps (where Python runs handlers) it is caught too
                    while True:
                        try:
                            if not ready:  # said inside: no first stop lands outside a try
                                print("ready", flush=True)
                                ready = True
                            while True:
                                time.sleep(0.05)
                        except BaseException:
                            pass
                except BaseException:
                    pass
        """
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        for _ in range(3):
            child.send_signal(signal.SIGTERM)
            time.sleep(0.3)
        assert child.wait(timeout=30) == 130
    finally:
        child.kill()


def test_a_time_limit_beyond_what_the_timer_takes_is_capped():
    previous = signal.getsignal(signal.SIGALRM)
    with limits.time_limit(1e300, lambda: limits.OverTime("late")):
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= limits.MAX_LIMIT_S
    assert signal.getsignal(signal.SIGALRM) is previous
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


@pytest.mark.parametrize("seconds", ["1e300", "inf", "nan", "-1"])
def test_a_material_timeout_out_of_range_is_one_line(lab, tmp_path, capsys, seconds):
    argv = ["run", "--model", "emt", *ELASTIC, "--out", str(tmp_path / "o")]
    line = _one_line(capsys, 2, main([*argv, f"--material-timeout={seconds}"]))
    assert "--material-timeout" in line and ("at most 1e+08" in line) == (seconds == "1e300")
    assert not (tmp_path / "o").exists()


def test_check_model_stops_a_factory_that_never_returns(lab, capsys):
    argv = ["check-model", f"{lab}_slow:make", "--timeout", "3"]
    line = _one_line(capsys, 1, main(argv))
    assert "did not finish within 3 s" in line


def test_check_model_reports_a_factory_that_exits(lab, capsys):
    argv = ["check-model", f"{lab}_slow:make", "--model-arg", "mode=exit"]
    line = _one_line(capsys, 1, main(argv))
    assert "sys.exit(3)" in line


@pytest.mark.parametrize("mode", ["raise"])  # the others exit on the materials only
def test_check_model_reports_a_model_that_fails_its_cells(lab, capsys, mode):
    code = main(["check-model", f"{lab}_evil:make", "--model-arg", f"mode={mode}"])
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.err
    assert "FAILED" in out.out and not out.err.strip()


def test_check_model_on_forces_of_the_wrong_shape_fails_that_check(lab, capsys):
    code = main(["check-model", f"{lab}_slow:flat"])
    out = capsys.readouterr()
    assert code == 1 and not out.err.strip(), out.err
    assert "FAIL" in out.out and "forces (1, 3)" in out.out


@pytest.mark.parametrize("timeout", ["-1", "nan"])
def test_check_model_refuses_a_timeout_that_is_no_time(lab, capsys, timeout):
    line = _one_line(capsys, 2, main(["check-model", "emt", "--timeout", timeout]))
    assert "--timeout" in line


def test_a_run_stops_a_factory_that_never_returns(lab, tmp_path, capsys):
    argv = ["run", "--model", f"{lab}_slow:make", *ELASTIC, "--material-timeout", "3"]
    line = _one_line(capsys, 1, main([*argv, "--out", str(tmp_path / "o")]))
    assert "loading the model did not finish within 3 s" in line
    assert not (tmp_path / "o").exists()  # nothing was stored, no folder left


@pytest.mark.slow  # a spawned worker imports bench and ase: 15 s on a busy 2-core machine
@pytest.mark.parametrize("mode", ["exit", "osexit"])
def test_an_isolated_worker_records_a_model_that_exits(lab, tmp_path, capsys, mode):
    """In a pool worker (--isolate) too: the material's failure, not a dead worker."""
    argv = ["run", "--model", f"{lab}_evil:make", "--model-arg", f"mode={mode}", *ELASTIC]
    assert main([*argv, "--isolate", "--out", str(tmp_path / "o")]) == 0
    with sqlite3.connect(tmp_path / "o" / "bench.sqlite") as con:
        (kind,) = con.execute("SELECT error_type FROM records").fetchone()
    con.close()
    assert kind == {"exit": "SystemExit", "osexit": "ModelExit"}[mode]


def _models_file(tmp_path, python: str) -> str:
    path = tmp_path / "other.yaml"
    path.write_text(f"other:\n  import: ase.calculators.emt:EMT\n  python: {python}\n")
    return str(path)


def test_a_worker_python_that_does_not_exist_is_one_line(lab, tmp_path, capsys):
    argv = ["run", "--models-file", _models_file(tmp_path, "/no/such/python"), "--model", "other"]
    line = _one_line(capsys, 1, main([*argv, *ELASTIC, "--out", str(tmp_path / "o")]))
    assert "python /no/such/python does not exist" in line and "bench env create" in line


def test_a_worker_python_that_never_answers_is_one_line(lab, tmp_path, capsys):
    """An interpreter that is no bench worker (``cat`` waits for its input): the load time
    limit ends it, in one line naming its log."""
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexec sleep 1000\n")
    silent.chmod(silent.stat().st_mode | stat.S_IXUSR)
    argv = ["run", "--models-file", _models_file(tmp_path, str(silent)), "--model", "other"]
    argv += [*ELASTIC, "--material-timeout", "3", "--out", str(tmp_path / "o")]
    line = _one_line(capsys, 1, main(argv))
    assert "no answer within 3 s" in line
