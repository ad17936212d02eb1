"""A model of one's own, given as an import path ``module:function``: the same numbers as the
catalogue's, in this process, in pool workers and on Dask workers that import it themselves;
its identity in the manifest; a worker that cannot import it stops the run in one line; its
records read by summary, table and report from anywhere."""

from __future__ import annotations

import os
import sqlite3

import pytest

from bench.cli import main
from bench.run.runner import RunConfig, run
from bench.run.store import Store
from tests.conftest import EMT_FACTORY

#: elastic-set materials made of EMT elements (about a second each)
MATERIALS = ("mp-188", "mp-361")


@pytest.fixture
def own(factory_folder) -> str:
    """The name of an EMT factory module in the current folder."""
    return factory_folder[1]


def _config(model: str, out, **extra) -> RunConfig:
    options = {"materials": MATERIALS, "progress": False, **extra}
    return RunConfig(
        model=model, task="elasticity", subset="elastic-full", out_dir=str(out), **options
    )


def _values(out, model: str | None = None) -> dict[str, tuple]:
    with Store(out) as store:
        frame = store.records(model=model)
    return {
        row.material_id: (row.status, row["model.K_GPa"], row["model.G_GPa"])
        for _, row in frame.iterrows()
    }


@pytest.mark.slow  # two worker processes, a Dask cluster
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_own_factory_in_two_workers_equals_the_catalogue(own, tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("dask.distributed", reason="dask extra not installed")
    out = tmp_path / "runs"
    summary = run(_config(f"{own}:make", out, workers=2, executor=executor))
    assert summary.model == f"{own}:make" and summary.counts == {"ok": 2}
    run(_config("emt", out))
    mine, theirs = _values(out, f"{own}:make"), _values(out, "emt")
    assert mine == theirs and len(mine) == 2


def test_identity_in_the_manifest_and_resume_refused_for_other_kwargs(own, tmp_path):
    out = tmp_path / "runs"
    run(_config(f"{own}:make", out, materials=MATERIALS[:1], model_args=("asap_cutoff=false",)))
    with Store(out) as store:
        manifest = store.manifests()[-1]
    identity = manifest["model_identity"]
    assert identity["import"] == f"{own}:make" and identity["kwargs"] == {"asap_cutoff": False}
    assert identity["source"].startswith("sha256:")  # a loose module: its source's hash
    assert manifest["device"] == "cpu" and manifest["dtype"] == "float64"  # EMT: numpy doubles
    argv = ["run", "--model", f"{own}:make", "--model-arg", "asap_cutoff=true", "--task"]
    argv += ["elasticity", "--subset", "elastic-full", "--materials", MATERIALS[0], "--quiet"]
    assert main([*argv, "--out", str(out)]) == 2  # another identity under the same label: refused


@pytest.mark.slow  # a worker process
@pytest.mark.parametrize("executor", ["local", "dask"])
def test_a_worker_that_cannot_import_it_stops_the_run(
    executor, tmp_path, monkeypatch, shared_data, capsys
):
    if executor == "dask":
        pytest.importorskip("dask.distributed", reason="dask extra not installed")
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "onlyhere.py").write_text(
        f"import os\nif os.getpid() != {os.getpid()}:\n    raise ImportError('not in a worker')\n"
        + EMT_FACTORY
    )
    monkeypatch.chdir(folder)
    out = tmp_path / "runs"
    argv = ["run", "--model", "onlyhere:make", "--task", "elasticity", "--subset"]
    argv += ["elastic-full", "--materials", ",".join(MATERIALS), "--workers", "2", "--quiet"]
    argv += ["--executor", executor]
    assert main([*argv, "--out", str(out), "--data-dir", str(shared_data)]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "not in a worker" in lines[0] and "Traceback" not in err, err
    with sqlite3.connect(out / "bench.sqlite") as con:
        assert con.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 0


def test_unknown_import_path_is_one_line_before_any_store(own, tmp_path, capsys):
    out = tmp_path / "runs"
    argv = ["run", "--model", "no_such_module:make", "--task", "elasticity", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 1
    assert "cannot import no_such_module:make" in capsys.readouterr().err
    assert not out.exists()
    argv = ["run", "--model", "emt", "--model-arg", "x=1", "--task", "elasticity", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 2  # kwargs for a catalogue model: usage
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    argv = ["run", "--model", f"{own}:make", "--checkpoint", str(weights), "--task", "elasticity"]
    assert main([*argv, "--quiet", "--out", str(out)]) == 2
    assert "takes no checkpoint argument" in capsys.readouterr().err
    assert not out.exists()


def test_an_unknown_name_suggests_the_factory_here_and_the_models_files_names(
    own, tmp_path, capsys
):
    """``--model labpot`` with labpot.py in the current folder: ``labpot:make`` (parsed, not
    imported); a models file's entry is among the close names (``my-model-v4``)."""
    out = tmp_path / "runs"
    argv = ["run", "--task", "elasticity", "--quiet", "--dry-run", "--out", str(out)]
    for given in (own, f"{own}.py"):
        assert main([*argv, "--model", given]) == 2
        assert f"unknown model '{given}'; did you mean {own}:make?" in capsys.readouterr().err
    models = tmp_path / "models.yml"
    models.write_text(f"my-model-v3:\n  import: {own}:make\n")
    assert main([*argv, "--models-file", str(models), "--model", "my-model-v4"]) == 2
    assert "did you mean my-model-v3?" in capsys.readouterr().err
    assert not out.exists()


def test_table_run_says_an_unknown_model_once(own, tmp_path, capsys):
    """``bench table --run --models typo``: one line, exit 2, before any run or table (not a
    skip per task and a summary repeating each); a models file's names are suggested."""
    models = tmp_path / "models.yml"
    models.write_text(f"my-model-v3:\n  import: {own}:make\n")
    argv = ["table", "--run", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "t")]
    argv += ["--models-file", str(models), "--models", f"{own}:make,my-model-v4"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("bench: error: --models:")
    assert "unknown model 'my-model-v4'; did you mean my-model-v3?" in captured.err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "t").exists()


def test_readers_show_an_own_model_without_importing_it(own, tmp_path, monkeypatch, capsys):
    out = tmp_path / "runs"
    run(_config(f"{own}:make", out))
    monkeypatch.chdir(tmp_path)  # the factory is not importable from here
    assert main(["summary", "--out", str(out)]) == 0
    assert f"{own}:make" in capsys.readouterr().out
    elastic = ["--elastic-subset", "elastic-full"]
    assert main(["table", "--runs", str(out), "--out", str(tmp_path / "tab"), *elastic]) == 0
    assert f"{own}:make" in (tmp_path / "tab" / "table2.md").read_text()
    assert main(["report", "--runs", str(out), "--out", str(tmp_path / "site"), *elastic]) == 0
    assert f"{own}:make" in (tmp_path / "site" / "index.html").read_text()
    assert main(["export", "--out", str(out), "--to", str(tmp_path / "x.csv")]) == 0
