"""CLI listings: models with reasons, data sets with subsets, summaries of a store."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.cli import main
from bench.run.store import Store


def test_models_lists_every_seed_model_with_a_reason(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for key in (
        "orb-v3-conservative-inf-omat",
        "orb-v3-direct-20-omat",
        "mace-mpa-0",
        "mace-omat-0",
        "sevennet-mf-ompa",
        "esen-30m-oam",
        "chgnet-0.3.0",
        "7net-0",
    ):
        assert key in out
    lines = out.splitlines()  # a table of one line per model, fitting 100 columns, then details
    table = lines[: lines.index("")]
    assert max(len(x) for x in table) <= 100
    assert table[0].split() == ["key", "source", "family", "runs", "here", "weights"]
    esen = next(x for x in table if x.split()[0] == "esen-30m-oam")
    assert esen.split()[3:] == ["no", "env", "not", "created"]
    chgnet = next(x for x in table if x.split()[0] == "chgnet-0.3.0")
    assert chgnet.split()[3:] == ["yes", "packaged"]
    detail = next(x for x in lines if x.startswith("  esen-30m-oam (eSEN-30M-OAM, esen): "))
    assert "environment 'fairchem'" in detail and "Table 2 row eSEN-30M-OAM" in detail


def test_datasets_lists_subsets_and_data_dir(shared_data, capsys):
    assert main(["datasets", "--data-dir", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert f"data directory: {shared_data}" in out
    for name in ("mdr-smoke", "mdr-50", "cv-binary-1170", "elastic-smoke", "CC BY 4.0"):
        assert name in out


def test_summary_and_export(tmp_path, capsys):
    with Store(tmp_path) as store:
        run_id = store.start_run({"settings_digest": "d"}, {})
        for material, value in (("a", 10.0), ("b", 14.0)):
            store.write(
                {
                    "model": "m",
                    "task": "phonons",
                    "dataset": "mdr-pbe",
                    "material_id": material,
                    "settings_digest": "d",
                    "status": "ok",
                    "values": {"Cv_J_per_K_mol": value},
                    "ref": {"Cv_J_per_K_mol": 12.0},
                },
                run_id,
            )
    assert main(["summary", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2.00 [2.00, 2.00]" in out  # MAE of |10-12| and |14-12|, with its interval
    assert main(["export", "--out", str(tmp_path), "--to", str(tmp_path / "r.csv")]) == 0
    assert (tmp_path / "r.csv").read_text().count("\n") == 3


def test_model_filters_take_aliases_and_checkpoint_labels(tmp_path):
    """``--model`` of summary/export/records push means what it means in ``bench run``: an
    alias selects the key's records, and those of its ``key@sha`` checkpoints; other models'
    records stay out; a foreign label selects its records; a name with no records is an error
    (a typo would give an empty result and exit 0)."""
    from bench.commands.output import model_labels
    from bench.errors import ConfigurationError
    from bench.models import resolve

    key = resolve("chgnet").key
    with Store(tmp_path) as store:
        run_id = store.start_run({"settings_digest": "d"}, {})
        for model in (key, f"{key}@1a2b3c4d", "emt", "foreign-label"):
            record = {"model": model, "task": "phonons", "dataset": "x", "material_id": "a"}
            store.write({**record, "settings_digest": "d", "status": "ok"}, run_id)
        assert model_labels(store, "chgnet") == [key, f"{key}@1a2b3c4d"]
        assert model_labels(store, key.upper()) == [key, f"{key}@1a2b3c4d"]
        assert model_labels(store, "chgnet@1a2b3c4d") == [f"{key}@1a2b3c4d"]
        assert model_labels(store, "foreign-label") == ["foreign-label"]
        with pytest.raises(ConfigurationError, match="no records of it"):
            model_labels(store, "nothing-like-it")
        assert model_labels(store, None) is None
    assert (
        main(
            ["export", "--out", str(tmp_path), "--model", "chgnet", "--to", str(tmp_path / "r.csv")]
        )
        == 0
    )
    assert (tmp_path / "r.csv").read_text().count("\n") == 3  # header + the two CHGNet rows


@pytest.mark.parametrize(
    "argv", [["--help"], ["run", "--help"], ["models"], ["run", "--model"]], ids=" ".join
)
def test_a_reader_that_left_is_no_traceback(argv):
    """``bench … | head``: the reader left before bench wrote; exit quietly (argparse's own
    messages too, which are printed before any command runs)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()  # before bench has imported, let alone written
    err = proc.stderr.read()
    assert proc.wait(timeout=120) in (0, 2), err  # 2: a usage error (its message on stderr)
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err
