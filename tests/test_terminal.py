"""The terminal in words: the progress bar at 80 columns, third-party output kept off it,
the run's last lines, tables fitted to 100 columns, the small-sample note."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from bench.commands.output import print_frame, print_summary, run_words
from bench.run.config import RunSummary
from bench.run.progress import Progress
from bench.run.runlog import stdout_kept, stdout_to


def test_bar_stays_readable_at_80_columns(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    ids = ["mp-1001789", "mp-1002183", "mp-1008223"]
    with Progress(3953, "chgnet-0.3.0", True, 2) as progress:
        progress.skipped(1200)
        progress.queue(ids)
        progress.done({"material_id": ids[0], "status": "failed"})
        progress.bar.refresh()
    lines = [x for x in capsys.readouterr().err.replace("\r", "\n").splitlines() if x.strip()]
    last = lines[-1]
    assert len(last) <= 80, last
    assert "1201/3953" in last and "1 failed; now mp-1002183 +1" in last
    assert "|" + " " * 3 in last or "█" in last  # a bar of its own width, not one character


def test_stdout_of_the_model_package_goes_to_the_log(tmp_path, capfd):
    log = tmp_path / "bench-run.log"
    with stdout_to(log):
        print("CHGNet v0.3.0 initialized with 412,525 parameters")
        os.write(1, b"CHGNet will run on cpu\n")  # a write below Python's sys.stdout
    with stdout_kept() as held:
        print("before the folder exists")
    print("ours")
    assert "initialized" in log.read_text() and "will run on cpu" in log.read_text()
    assert held == ["before the folder exists\n"]
    out = capfd.readouterr().out
    assert "initialized" not in out and "will run on cpu" not in out and "ours" in out


def _summary(**kw) -> RunSummary:
    base = dict(model="m", task="t", dataset="d", settings_digest="x", store=Path("runs/s"))
    return RunSummary(**base, run_id="r", n_total=4, n_skipped=0, **kw)


def test_run_ends_in_words():
    text = run_words(_summary(counts={"ok": 3, "failed": 1}, errors={"ModelError": 1}))
    assert text.startswith("this run: 3 ok, 1 failed (ModelError); 0 of 4 materials already")
    assert text.endswith("`--retry-failures` runs failed materials again")
    done = run_words(_summary(n_failed_kept=4))  # a store of failures only: nothing to do
    assert "nothing to do" in done and "4 failed earlier and kept" in done
    assert "--retry-failures" in done and "{" not in text + done


def test_wide_tables_fit_100_columns_and_small_n_has_a_note(capsys):
    wide = pd.DataFrame([{f"column {i}": "18.8 [3.4, 46.0]" for i in range(8)}])
    print_frame(wide)
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= 100 and len(lines) == 8  # one block: heading + 7 lines
    table = pd.DataFrame(
        [{"model": "m", "dataset": "mdr-pbe", "settings_digest": "x", "n": 3, "n_ok": 3,
          "n_failed": 0, "V": 18.8, "V.lo": 3.4, "V.hi": 46.0, "n_V": 3}]
    )  # fmt: skip
    print_summary(table, ("V",), True)
    assert "n = 3" in capsys.readouterr().out


def test_messages_take_a_or_an_by_the_word(shared_data, capsys):
    """``an elasticity subset``, ``an int``: the article follows the name put in the message."""
    from bench.cli import main
    from bench.terminal import a_or_an

    words = [a_or_an(w) for w in ("elasticity", "phonons", "int", "dict", "Equigrad")]
    assert words == ["an elasticity", "a phonons", "an int", "a dict", "an Equigrad"]
    argv = ["run", "--model", "emt", "--task", "phonons", "--subset", "elastic-smoke"]
    assert main([*argv, "--data-dir", str(shared_data), "--dry-run"]) == 2
    assert "subset elastic-smoke is an elasticity subset, not phonons" in capsys.readouterr().err
