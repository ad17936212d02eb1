"""Models from a models file, the current project's pyproject.toml and installed plug-ins
(entry-point group ``bench.models``): listed by ``bench models`` with where they came from,
and run by name."""

from __future__ import annotations

import sys

from bench.cli import main
from bench.run.store import Store

RUN = ["run", "--task", "elasticity", "--subset", "elastic-full", "--materials", "mp-188"]


def _row(output: str, key: str) -> str:
    """The text of ``bench models``' row of ``key`` (a one-line row, or a block headed by
    the key whose lines are indented)."""
    lines = output.splitlines()
    for n, line in enumerate(lines):
        if line.split() and line.split()[0] == key:
            block = [line]
            for more in lines[n + 1 :]:
                if not more.startswith(" "):
                    break
                block.append(more)
            return "\n".join(block)
    return ""


def _labels(out) -> set[str]:
    with Store(out) as store:
        return set(store.records()["model"])


def test_models_file_entry_runs_by_name_and_is_listed(factory_folder, tmp_path, capsys):
    here, module = factory_folder
    models = here / "models.yml"
    models.write_text(f"lab-v3:\n  import: {module}:make\n  kwargs:\n    asap_cutoff: false\n")
    assert main(["models", "--models-file", str(models)]) == 0
    row = _row(capsys.readouterr().out, "lab-v3")
    assert "models file" in row and "yes" in row
    out = tmp_path / "runs"
    argv = [*RUN, "--models-file", str(models), "--model", "lab-v3", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    assert _labels(out) == {"lab-v3"}


def test_a_bad_models_file_is_one_line(factory_folder, tmp_path, capsys):
    here, module = factory_folder
    models = here / "models.yml"
    models.write_text(f"lab-v3:\n  import: {module}:make\n  kwarg: {{}}\n")
    assert main(["models", "--models-file", str(models)]) == 2
    assert "unknown field(s) kwarg" in capsys.readouterr().err


def test_pyproject_tool_bench_models(factory_folder, tmp_path, capsys):
    here, module = factory_folder
    (here / "pyproject.toml").write_text(
        f'[tool.bench.models.proj-emt]\nimport = "{module}:make"\n'
    )
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "pyproject.toml" in _row(listing, "proj-emt")  # the table's source column
    assert f"proj-emt: {here / 'pyproject.toml'} [tool.bench.models], import " in listing
    out = tmp_path / "runs"
    assert main([*RUN, "--model", "proj-emt", "--quiet", "--out", str(out)]) == 0
    assert _labels(out) == {"proj-emt"}


def test_plugin_from_an_entry_point_is_listed_and_runs(
    factory_folder, tmp_path, monkeypatch, capsys
):
    _, module = factory_folder
    site = tmp_path / "site"
    info = site / "benchplug-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: benchplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[bench.models]\nplug-emt = {module}:make\n")
    monkeypatch.syspath_prepend(str(site))
    assert main(["models"]) == 0
    assert "plug-in benchplug" in _row(capsys.readouterr().out, "plug-emt")
    out = tmp_path / "runs"
    assert main([*RUN, "--model", "plug-emt", "--quiet", "--out", str(out)]) == 0
    assert _labels(out) == {"plug-emt"}
    with Store(out) as store:
        assert store.manifests()[-1]["model_source"] == "plug-in benchplug"


def test_models_file_entry_with_its_own_python_runs_in_remote_workers(factory_folder, tmp_path):
    here, module = factory_folder
    models = here / "models.yml"
    models.write_text(f"env-emt:\n  import: {module}:make\n  python: {sys.executable}\n")
    out = tmp_path / "runs"
    argv = [*RUN, "--models-file", str(models), "--model", "env-emt", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    assert _labels(out) == {"env-emt"}
    assert (out / "workers" / "env-emt-0.log").is_file()  # a bench.run.remote worker ran it


def test_models_file_paths_resolve_beside_the_file(tmp_path, monkeypatch):
    """``checkpoint:`` and ``python:`` of a models file: relative ones beside the file (not
    the current folder), ``~`` the home folder, absolute ones as they are."""
    from bench.models.external import load_models_file, models_file_entries

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "lab").mkdir()
    models = tmp_path / "lab" / "models.yml"
    models.write_text(
        "a: {import: m:f, checkpoint: w/a.pt, python: env/bin/python}\n"
        "b: {import: m:f, checkpoint: ~/b.pt}\n"
        f"c: {{import: m:f, checkpoint: {tmp_path / 'c.pt'}}}\n"
    )
    monkeypatch.chdir(tmp_path)
    load_models_file("lab/models.yml")
    entries = models_file_entries()
    assert entries["a"]["checkpoint"] == str(tmp_path / "lab" / "w" / "a.pt")
    assert entries["a"]["python"] == str(tmp_path / "lab" / "env" / "bin" / "python")
    assert entries["b"]["checkpoint"] == str(tmp_path / "home" / "b.pt")
    assert entries["c"]["checkpoint"] == str(tmp_path / "c.pt")
