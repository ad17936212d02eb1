"""No raw control character reaches the terminal (issue 34): every string from a record, a
store, a models file, a model's exception or output, or the command line is printed through
:mod:`bench.terminal`, with ``ESC``, ``BEL`` and the rest escaped (``\\x1b``)."""

from __future__ import annotations

import ast
import gzip
import json
import re
from pathlib import Path

import pytest

from bench.cli import main
from bench.commands.output import print_frame
from bench.terminal import echo, plain, shown
from tests.test_trust import RUN, _copy_tree, _group, emt_records  # noqa: F401 (a fixture)

#: sets the window title, rings the bell, clears the screen, then a second line and a C1 CSI
PAYLOAD = "\x1b]0;pwned\x07\x1b[2J\nsecond line\x9b31m\u202eevil"
#: a payload written inside YAML double quotes (\e is ESC, \a is BEL)
YAML_PAYLOAD = r"m\e]0;pwned\a\e[2J"
#: what must not reach the terminal raw (the progress bar's own carriage return may)
RAW = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)

EVIL_MODULE = """
import os
import sys

from ase.calculators.emt import EMT

PAYLOAD = {payload!r}


class Evil(EMT):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def calculate(self, atoms=None, *args, **kwargs):
        if self.mode == "raise":
            raise RuntimeError(PAYLOAD)
        if not {{"Pt", "Gd"}} & set(atoms.get_chemical_symbols()):  # the probe cells: EMT
            return super().calculate(atoms, *args, **kwargs)
        if self.mode == "exit":
            sys.exit(3)
        if self.mode == "osexit":
            os._exit(4)
        if self.mode == "panic":
            raise BaseException("a library's panic " + PAYLOAD)  # as pyo3's PanicException
        super().calculate(atoms, *args, **kwargs)


def make(mode="raise"):
    print(PAYLOAD)
    os.write(1, PAYLOAD.encode() + b"\\n")
    return Evil(mode)
"""


def _clean(capfd) -> str:
    """Everything on fd 1 and 2 so far, asserted free of raw control characters."""
    out, err = capfd.readouterr()
    for text in (out, err):
        bad = sorted({repr(c) for c in RAW.findall(text)})
        assert not bad, f"raw {bad} in:\n{text}"
    return out + err


@pytest.fixture
def evil(tmp_path, monkeypatch, shared_data) -> str:
    """A module of a factory whose calculator raises (or exits) with the payload, the
    current folder; a models file naming it with a key that holds the payload: the module."""
    name = f"evilpot_{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / f"{name}.py").write_text(EVIL_MODULE.format(payload=PAYLOAD))
    (tmp_path / "models.yaml").write_text(
        f'"{YAML_PAYLOAD}":\n  import: {name}:make\n  kwargs: {{mode: raise}}\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    return name


# --- the sanitiser -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", [PAYLOAD, "\x00\x1b\x7f\x9b", "\u2028\u2029\u200e\u200f\u2066x", "a\rb", "\tx\n"]
)
def test_shown_escapes_every_control_character(text):
    out = shown(text)
    assert not RAW.search(out) and "\n" not in out and "\t" not in out and "\r" not in out
    assert "\\x1b]0;pwned\\x07" in shown(PAYLOAD) and "\\u202e" in shown(PAYLOAD)
    assert shown("mp-1031 chgnet-0.3.0 ü Å") == "mp-1031 chgnet-0.3.0 ü Å"  # text stays


def test_echo_keeps_bench_layout_and_escapes_the_rest(capsys):
    echo(f"== head\n  {PAYLOAD}\tend")
    out = capsys.readouterr().out
    assert out.startswith("== head\n  \\x1b]0;pwned\\x07") and "\tend\n" in out
    assert not RAW.search(out.replace("\t", "").replace("\n", ""))
    assert plain("a\nb") == "a\nb"


def test_a_table_cell_stays_on_its_line(capsys):
    import pandas as pd

    print_frame(pd.DataFrame([{"material_id": "mp-1", "error_message": PAYLOAD}]))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "\\x1b]0;pwned\\x07\\x1b[2J\\nsecond line" in lines[1]


# --- no print path bypasses it -----------------------------------------------------------

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bypasses(path: Path) -> list[str]:
    """Calls in ``path`` that write to the terminal around :mod:`bench.terminal`: ``print``,
    ``sys.stdout``/``sys.stderr`` writes, ``tqdm`` bars, ``logging`` set-ups."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func, where = node.func, f"{path.relative_to(BENCH.parent)}:{node.lineno}"
        if isinstance(func, ast.Name) and func.id in ("print", "tqdm", "basicConfig"):
            found.append(f"{where} {func.id}(")
        elif isinstance(func, ast.Attribute) and func.attr in ("write", "writelines"):
            target = ast.unparse(func.value)
            if target in ("sys.stdout", "sys.stderr", "sys.__stdout__", "sys.__stderr__"):
                found.append(f"{where} {target}.{func.attr}(")
        elif isinstance(func, ast.Attribute) and func.attr == "basicConfig":
            found.append(f"{where} logging.basicConfig(")
    return found


#: modules that may write to the terminal themselves, and why
ALLOWED = {
    "bench/terminal.py": "the sanitiser itself",
    "bench/run/progress.py": "the progress bar: its description and postfix go through shown()",
}


def test_no_module_prints_around_the_sanitiser():
    found = [
        hit
        for path in sorted(BENCH.rglob("*.py"))
        if str(path.relative_to(BENCH.parent)) not in ALLOWED
        for hit in _bypasses(path)
    ]
    assert found == [], "print through bench.terminal.echo (shown() for untrusted strings)"


def test_the_bypass_finder_finds_a_print(tmp_path):
    path = BENCH / "_probe_for_test.py"
    try:
        path.write_text("import sys\nprint('x')\nsys.stderr.write('y')\ntqdm(total=1)\n")
        assert len(_bypasses(path)) == 3
    finally:
        path.unlink()


def test_the_progress_bar_shows_its_texts_escaped(capsys, monkeypatch):
    from bench.run.progress import Progress

    monkeypatch.setenv("COLUMNS", "400")  # room for what is running: not cut
    with Progress(2, f"m{PAYLOAD}", enabled=True, workers=1) as bar:
        bar.queue([f"mp-1{PAYLOAD}", "mp-2"])
        bar.done({"material_id": "mp-2", "status": "failed"})
        bar.bar.refresh()
    err = capsys.readouterr().err.replace("\r", "")  # tqdm's own carriage returns
    assert "now mp-1\\x1b]0;pwned\\x07" in err and "m\\x1b]0;pwned\\x07" in err
    assert not RAW.search(err.replace("\n", ""))


# --- each printing path, fed the payload -------------------------------------------------


@pytest.mark.parametrize("quiet", [True, False])
def test_a_run_prints_a_models_error_and_names_escaped(evil, tmp_path, capfd, quiet):
    """The check's refusal of a model that raises on every cell, then (``--no-check``) the run
    header, the progress bar, the failure list (live and --quiet) and the run's last lines:
    the model's key from the models file and its error message."""
    argv = ["run", "--models-file", "models.yaml", "--model", "m\x1b]0;pwned\x07\x1b[2J"]
    argv += ["--task", "elasticity", "--materials", "mp-10903", "--out", str(tmp_path / "o")]
    argv += ["--quiet"] if quiet else []
    assert main(argv) == 1  # refused before its first material, with what it raised
    text = _clean(capfd)
    assert "RuntimeError" in text and "\\x1b]0;pwned\\x07" in text
    assert main([*argv, "--no-check"]) == 0
    text = _clean(capfd)
    assert "RuntimeError" in text and "\\x1b]0;pwned\\x07" in text
    assert "\\x1b[2J\\nsecond line" in text  # the message stays on its row of the table


@pytest.mark.parametrize("mode", ["exit", "osexit", "panic"])
def test_a_model_that_exits_or_panics_is_the_materials_failure(evil, tmp_path, capfd, mode):
    """sys.exit, os._exit and a library's BaseException in a model's code, evaluated in
    bench's own process: a failure record each, the run goes on to its table."""
    argv = ["run", "--model", f"{evil}:make", "--model-arg", f"mode={mode}", "--quiet"]
    argv += ["--task", "elasticity", "--materials", "mp-10903,mp-1031"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    text = _clean(capfd)
    kind = {"exit": "SystemExit", "osexit": "ModelExit", "panic": "BaseException"}[mode]
    assert text.count(kind) >= 2 and "2 failed" in text, text


def test_resumed_failures_are_printed_escaped(emt_records, shared_data, tmp_path, capfd):  # noqa: F811
    """error_type and error_message of committed records a run resumes from."""
    _, source, record = emt_records
    root = tmp_path / "records"
    _copy_tree(source, root)
    (part,) = _group(root, record).glob("part-*.jsonl.gz")
    failed = {**record, "status": "failed", "error_type": PAYLOAD, "error_message": PAYLOAD}
    failed.update(values=None, ref=None)
    with gzip.open(part, "wt") as handle:
        handle.write(json.dumps(failed) + "\n")
    argv = [*RUN, "--materials", "mp-10903", "--records", str(root), "--out", str(tmp_path / "o")]
    assert main([*argv, "--data-dir", str(shared_data)]) == 0
    assert "\\x1b]0;pwned\\x07" in _clean(capfd)


def test_labels_of_records_are_printed_escaped(emt_records, tmp_path, capfd):  # noqa: F811
    """A model label and task of a crafted part in ``summary`` and in the one-line refusal
    that lists the labels there."""
    _, source, record = emt_records
    root = tmp_path / "records"
    _copy_tree(source, root)
    (part,) = _group(root, record).glob("part-*.jsonl.gz")
    with gzip.open(part, "wt") as handle:
        handle.write(json.dumps({**record, "model": "emt" + PAYLOAD}) + "\n")
    main(["summary", "--out", str(root)])
    main(["summary", "--out", str(root), "--model", "none-such"])
    main(["export", "--out", str(root), "--model", "none-such", "--to", str(tmp_path / "x.csv")])
    text = _clean(capfd)
    assert text.count("\\x1b]0;pwned\\x07") >= 2


def test_a_models_file_name_is_listed_escaped(evil, capfd):
    assert main(["models", "--models-file", "models.yaml"]) == 0
    assert "\\x1b]0;pwned\\x07" in _clean(capfd)


def test_typed_ids_and_options_are_refused_escaped(shared_data, tmp_path, capfd):
    """Ids typed in --materials, an unknown option, a bad choice: each a line, escaped."""
    out = str(tmp_path / "o")
    main([*RUN, "--materials", f"mp-1{PAYLOAD}", "--out", out, "--data-dir", str(shared_data)])
    with pytest.raises(SystemExit):
        main(["summary", f"--{PAYLOAD}"])
    with pytest.raises(SystemExit):
        main(["run", "--model", "emt", "--task", PAYLOAD])
    main(["summary", "--out", str(tmp_path / PAYLOAD)])
    text = _clean(capfd)
    assert text.count("\\x1b]0;pwned\\x07") >= 3


def test_check_model_shows_the_factorys_output_escaped(evil, capfd):
    code = main(["check-model", f"{evil}:make", "--model-arg", "mode=none", "--timeout", "120"])
    text = _clean(capfd)
    assert code == 0 and text.count("(model output) \\x1b]0;pwned\\x07") == 2


def test_a_warning_is_escaped(capfd):
    from bench.errors import warn

    warn(f"push to {PAYLOAD} failed")
    assert "\\x1b]0;pwned" in _clean(capfd)
