"""What another interpreter answers (an own environment's import check, a run's probes,
``check-model``'s checks) goes through one reader, :func:`bench.run.answer.ask`: whatever it
prints, its output costs bounded memory and a line that is no JSON is one line naming what
was run; a model's own prints in this process are kept as a bounded tail too."""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import ModelUnavailableError
from bench.models import ownenv
from bench.run.answer import ANSWER_TAIL, ask
from bench.run.runlog import OUTPUT_TAIL, stdout_kept

ROOT = Path(__file__).resolve().parents[1]
#: lines that start like an answer and are not JSON
NOT_JSON = ["{oops", '{"checks": [', "{" * 100_000, '{"n": ' + "9" * 5000 + "}", "{\udcff}"]


def _printing(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@pytest.mark.parametrize("line", NOT_JSON)
def test_a_line_that_is_no_json_is_one_line_naming_what_ran(line):
    code = f"import sys; sys.stdout.write({line!r} + '\\n')"
    code = code.replace("\\udcff", "\\\\xff")  # an undecodable byte too
    with pytest.raises(ModelUnavailableError, match=r"^KEY: python X answered a line that is not"):
        ask(_printing(code), 60, "KEY: python X")


def test_the_last_json_line_is_the_answer_and_output_is_a_bounded_tail():
    """Megabytes on both streams (beyond what is kept) cost no memory beyond the tails."""
    code = (
        "import sys\n"
        "sys.stderr.write('noise\\n' * 3_000_000 + 'the last words\\n')\n"
        "sys.stdout.write('{\"old\": 1}\\n' + 'x' * 9_000_000 + '\\n{\"answer\": 42}\\n')\n"
    )
    got = ask(_printing(code), 120, "KEY")
    assert got.value == {"answer": 42}
    assert len(got.stderr.encode()) <= OUTPUT_TAIL + 100 and "left out" in got.stderr
    assert got.last_line() == "the last words"
    assert ANSWER_TAIL < 9_000_000


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (_printing("import time; time.sleep(60)"), "KEY gave no answer within 0.5 s (doing)"),
        (["/nonexistent/python"], "KEY does not run"),
    ],
)
def test_no_answer_in_time_or_no_interpreter_is_one_line(command, says):
    with pytest.raises(ModelUnavailableError, match="^" + re.escape(says)):
        ask(command, 0.5, "KEY", " (doing)")


def test_no_json_line_is_no_answer_with_the_last_words():
    got = ask(_printing("import sys; print('hi'); sys.stderr.write('\\n\\nboom\\n\\n')"), 60, "K")
    assert got.value is None and got.last_line() == "boom"
    assert ask(_printing("pass"), 60, "K").last_line() == "no output"


@pytest.fixture
def liar(tmp_path, monkeypatch) -> Path:
    """An interpreter that passes the import check and answers bench's worker with
    ``{oops``; the current folder holds a models file naming it (``liar``)."""
    script = tmp_path / "liar-python"
    script.write_text(
        f'#!/bin/sh\nif [ "$1" = "-c" ]; then exec {sys.executable} "$@"; fi\necho "{{oops"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "models.yml").write_text(
        f"liar:\n  import: ase.calculators.emt:EMT\n  python: {script}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setattr(ownenv, "_CHECKED", set())
    return script


@pytest.mark.parametrize("command", ["check-model", "run"])
def test_an_own_environment_answering_no_json_is_one_line(
    liar, shared_data, command, monkeypatch, capsys
):
    """``check-model`` and a run's probes before its first material alike."""
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    argv = ["check-model", "liar"] if command == "check-model" else ["run", "--model", "liar"]
    extra = [] if command == "check-model" else ["--task", "elasticity", "--out", "o", "--quiet"]
    code = main([*argv, "--models-file", "models.yml", *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert f"liar: {liar} -m bench.run.remote answered a line that is not JSON" in err[0], err


def test_the_import_check_answering_no_json_is_one_line(tmp_path, monkeypatch):
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\necho '{\"bench\": '\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(ownenv, "_CHECKED", set())
    from bench.models import resolve

    spec = resolve("emt")
    with pytest.raises(ModelUnavailableError, match=f"^emt: python {script} answered a line"):
        ownenv.check_python(str(script), spec, 30)


@pytest.mark.parametrize("size", [0, 10, OUTPUT_TAIL - 1, OUTPUT_TAIL, OUTPUT_TAIL + 1, 5 << 20])
@pytest.mark.parametrize("newlines", [True, False])
def test_a_models_prints_are_kept_as_a_bounded_tail(size, newlines):
    """Whatever this process prints in the block (Python's or the descriptor's), what is
    held is its last :data:`OUTPUT_TAIL` bytes at most, from a line's start, the end intact."""
    text = (("y" * 99 + "\n") * (size // 100 + 1))[:size] if newlines else "z" * size
    with stdout_kept() as held:
        os.write(1, text.encode())
        print("THE END")
    kept = "".join(held)
    assert kept.endswith("THE END\n") and len(kept.encode()) <= OUTPUT_TAIL + 100
    if size + 8 <= OUTPUT_TAIL:
        assert kept == text + "THE END\n"
    else:
        assert kept.startswith("[") and "of output before this left out]\n" in kept
        first = kept.splitlines()[1]  # a whole line; without any, the end of the one cut
        assert first in ("y" * 99, "THE END") if newlines else first.endswith("zTHE END")
