"""Every bad input is one line on stderr with exit code 2 (usage) or 1 (runtime), no
traceback, and the store as it was."""

from __future__ import annotations

import importlib.util
import sqlite3

import pytest

from bench.cli import main


@pytest.fixture(scope="module")
def store_dir(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("store")
    args = ["run", "--model", "emt", "--task", "elasticity", "--materials", "mp-10903"]
    assert main([*args, "--out", str(out), "--quiet", "--data-dir", str(shared_data)]) == 0
    return out


def _rows(out) -> list[tuple]:
    with sqlite3.connect(out / "bench.sqlite") as con:
        return sorted(con.execute("SELECT * FROM records").fetchall())


RUN = ["run", "--model", "emt", "--task", "elasticity", "--quiet"]
CASES = {
    "unknown model": (["run", "--model", "nope-1"], 2, "unknown model"),
    "limit 0": ([*RUN, "--limit", "0"], 2, "--limit"),
    "limit -1": ([*RUN, "--limit", "-1"], 2, "--limit"),
    "workers 0": ([*RUN, "--workers", "0"], 2, "--workers"),
    "device gpu": ([*RUN, "--device", "gpu"], 2, "unknown device"),
    "device cuda here": ([*RUN, "--device", "cuda"], 2, "CUDA"),
    "NaN setting": ([*RUN, "--set", "relax.fmax_eV_per_A=NaN"], 2, "finite"),
    "Infinity setting": ([*RUN, "--set", "relax.fmax_eV_per_A=Infinity"], 2, "finite"),
    "unknown optimizer": ([*RUN, "--set", "relax.optimizer=Foo"], 2, "optimizer 'Foo'"),
    "unknown setting": ([*RUN, "--set", "nope=1"], 2, "unknown setting"),
    "unknown subset": ([*RUN, "--subset", "elastic-smok"], 2, "elastic-smok"),
    "summary of nothing": (["summary", "--out", "{tmp}/missing"], 2, "no results in"),
    "export xlsx": (["export", "--out", "{store}", "--to", "{tmp}/r.xlsx"], 2, ".csv or"),
    "export to a dir": (["export", "--out", "{store}", "--to", "{tmp}"], 2, "export to"),
    "export, no folder": (["export", "--out", "{store}", "--to", "{tmp}/a/b.csv"], 2, "folder"),
    "table of nothing": (["table", "--runs", "{tmp}/missing", "--out", "{tmp}/t"], 2, "no results"),
    "out is a file": ([*RUN, "--out", "{file}"], 1, "{file}"),
    "corrupt store": (["summary", "--out", "{corrupt}"], 1, "not a database"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line(case, store_dir, shared_data, tmp_path, capsys):
    argv, code, text = CASES[case]
    (tmp_path / "a-file").write_text("not a directory")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "bench.sqlite").write_bytes(b"random bytes, not sqlite" * 100)
    names = {"tmp": tmp_path, "store": store_dir, "file": tmp_path / "a-file", "corrupt": corrupt}
    before = _rows(store_dir)
    argv = [a.format(**names) for a in argv]
    if argv[0] == "run" and "--out" not in argv:
        argv += ["--out", str(store_dir)]
    if argv[0] == "run":
        argv += ["--data-dir", str(shared_data)]
    assert main(argv) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert text.format(**names) in lines[0]
    assert _rows(store_dir) == before
    assert not (tmp_path / "missing").exists()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("chgnet") is None, reason="chgnet not installed")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_checkpoint_that_is_not_one_is_one_line(
    workers, store_dir, shared_data, tmp_path, capsys
):
    bad = tmp_path / "weights.pth.tar"
    bad.write_bytes(b"\x00\x01random" * 1000)
    before = _rows(store_dir)
    argv = ["run", "--model", "chgnet", "--task", "elasticity", "--limit", "2", "--quiet"]
    argv += ["--checkpoint", str(bad), "--workers", workers, "--out", str(store_dir)]
    argv += ["--data-dir", str(shared_data)]
    assert main(argv) == 1  # a model that cannot load: not a usage error
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    assert "cannot load" in lines[0] and "chgnet checkpoint" in lines[0]
    assert _rows(store_dir) == before


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(store_dir, tmp_path, where):
    """``--debug`` before the command or after it (where the error's hint is read)."""
    argv = ["summary", "--out", str(tmp_path / "missing")]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with pytest.raises(Exception, match="no results"):
        main(argv)


def test_every_command_takes_debug_after_it():
    """Each command and subcommand (``bench records push``, ``bench speed forward``...)."""
    import argparse

    from bench.cli import build_parser

    def commands(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield [*path, name], child
                    yield from commands(child, [*path, name])

    found = list(commands(build_parser(), []))
    assert len(found) > 12
    for path, child in found:
        assert "--debug" in child._option_string_actions, path
        action = child._option_string_actions["--debug"]
        assert (action.dest, action.const, action.nargs) == ("debug", True, 0), path
    with pytest.raises(Exception, match="unknown model"):  # where the hint is read
        main(["run", "--model", "nosuch", "--subset", "mdr-smoke", "--debug"])


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("chgnet") is None or importlib.util.find_spec("sevenn") is None,
    reason="chgnet and sevenn needed",
)
def test_a_checkpoint_of_another_family_is_one_line(store_dir, shared_data, capsys):
    from pathlib import Path

    import sevenn

    sevennet = next(Path(sevenn.__file__).parent.rglob("checkpoint_sevennet_0.pth"))
    argv = ["run", "--model", "chgnet", "--task", "elasticity", "--limit", "1", "--quiet"]
    argv += ["--checkpoint", str(sevennet), "--out", str(store_dir), "--data-dir", str(shared_data)]
    before = _rows(store_dir)
    assert main(argv) == 1  # cannot load: not a usage error
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "is it a chgnet checkpoint?" in err
    assert _rows(store_dir) == before


def test_out_under_a_file_and_a_bad_cell_are_one_line(store_dir, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main([*RUN, "--out", str(tmp_path / "f" / "sub")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "bench.sqlite").write_bytes((store_dir / "bench.sqlite").read_bytes())
    with sqlite3.connect(bad / "bench.sqlite") as con:
        con.execute("UPDATE records SET values_json='{not json'")
    assert main(["summary", "--out", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_resume_onto_records_of_other_weights_is_refused(store_dir, shared_data, tmp_path, capsys):
    import json

    out = tmp_path / "copy"
    out.mkdir()
    (out / "bench.sqlite").write_bytes((store_dir / "bench.sqlite").read_bytes())
    with sqlite3.connect(out / "bench.sqlite") as con:
        for run_id, body in con.execute("SELECT run_id, manifest_json FROM runs").fetchall():
            manifest = {**json.loads(body), "checkpoint_sha256": "ab" * 32}
            sql = "UPDATE runs SET manifest_json=? WHERE run_id=?"
            con.execute(sql, (json.dumps(manifest), run_id))
    argv = ["run", "--model", "emt", "--task", "elasticity", "--materials", "mp-10903,mp-1031"]
    assert main([*argv, "--out", str(out), "--data-dir", str(shared_data), "--quiet"]) == 2
    assert "other weights" in capsys.readouterr().err
