"""Models from a models file, the current project's pyproject.toml and installed plug-ins
(entry-point group ``bench.models``): listed by ``bench models`` with where they came from,
and run by name."""

from __future__ import annotations

import sys

import pytest

from bench.cli import main
from bench.errors import ModelUnavailableError
from bench.models import load_model
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


#: a factory of one's own that takes its weights file (it reads nothing: EMT)
CKPT_FACTORY = """
from ase.calculators.emt import EMT


def make(checkpoint=None):
    return EMT()
"""


def _details(output: str, key: str) -> str:
    """The details line of ``key`` in ``bench models``' output."""
    return next(line for line in output.splitlines() if line.startswith(f"  {key}: "))


def _error_line(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_models_file_checkpoint_that_is_not_there_is_named_as_resolved(
    factory_folder, tmp_path, monkeypatch, capsys
):
    here, _ = factory_folder
    (here / "ckpot.py").write_text(CKPT_FACTORY)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    lab = here / "lab"
    lab.mkdir()
    models = lab / "models.yml"
    models.write_text(
        "rel-ck:\n  import: ckpot:make\n  checkpoint: nope/w.pt\n"
        "home-ck:\n  import: ckpot:make\n  checkpoint: ~/w.pt\n"
    )
    out = tmp_path / "runs"
    for name, path in (("rel-ck", lab / "nope" / "w.pt"), ("home-ck", home / "w.pt")):
        named = f"(the checkpoint: of {name} in models file {models}, relative paths read "
        line = f"bench: error: {name}: checkpoint file not found: {path} {named}"
        for argv in (
            [*RUN, "--models-file", str(models), "--model", name, "--out", str(out)],
            [*RUN, "--models-file", str(models), "--model", name, "--dry-run"],
            ["check-model", name, "--models-file", str(models)],
        ):
            assert _error_line(capsys, argv).startswith(line)
        assert main(["models", "--models-file", str(models)]) == 0
        listing = capsys.readouterr().out
        assert _row(listing, name).split()[4:] == ["no", "missing"]
        assert line.removeprefix(f"bench: error: {name}: ") in _details(listing, name)
        with pytest.raises(ModelUnavailableError, match="checkpoint file not found"):
            load_model(name)  # a worker: never the factory without the entry's weights
    assert not out.exists()
    (home / "w.pt").write_bytes(b"weights")  # ~ is the home folder, not one beside the file
    assert main([*RUN, "--models-file", str(models), "--model", "home-ck", "--dry-run"]) == 0


def test_an_own_environments_checkpoint_is_found_without_importing_its_package(
    factory_folder, tmp_path
):
    from bench.models import resolve
    from bench.models.external import load_models_file
    from bench.models.weights import require_weights

    here, _ = factory_folder
    (here / "w.pt").write_bytes(b"weights")
    sub = here / "sub"
    sub.mkdir()
    models = sub / "models.yml"
    entry = "  import: only_there_pkg:make\n  checkpoint: ../w.pt\n"  # a package of that env
    models.write_text(f"env-ck:\n{entry}  python: {sys.executable}\n")
    load_models_file(models)
    status = require_weights(resolve("env-ck"))
    assert status.state == "local" and status.path.resolve() == (here / "w.pt").resolve()


def test_weights_that_ship_in_a_package_are_not_said_to_be_unreachable():
    import dataclasses

    from bench.models.registry import SPECS
    from bench.models.weights import missing_message, weights_status

    spec = dataclasses.replace(SPECS["7net-0"], package="no_such_package_here")
    assert spec.url is None and weights_status(spec).state == "missing"
    message = missing_message(spec)
    assert "cannot be reached" not in message
    assert message.startswith(
        "7net-0: weights checkpoint_sevennet_0.pth are not in the installed no_such_package_here"
    )


def test_plugins_that_cannot_import_do_not_run_here_and_say_why(
    factory_folder, tmp_path, monkeypatch, capsys
):
    _, module = factory_folder
    site = tmp_path / "site"
    info = site / "brokenplug-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 1.0\n")
    (site / "broken_syntax_mod.py").write_text("def make(:\n    pass\n")
    (site / "exiting_mod.py").write_text("import sys\n\nsys.exit(3)\n")
    (info / "entry_points.txt").write_text(
        f"[bench.models]\nplug-noattr = {module}:nothere\n"
        "plug-syntax = broken_syntax_mod:make\n"
        "plug-exit = exiting_mod:make\n"
        f"plug-fine = {module}:make\n"
    )
    monkeypatch.syspath_prepend(str(site))
    for name in ("plug-noattr", "plug-syntax", "plug-exit"):
        line = _error_line(capsys, [*RUN, "--model", name, "--dry-run"])
        reason = line.removeprefix("bench: error: ")
        assert reason.startswith("cannot import ")
        assert main(["models"]) == 0
        listing = capsys.readouterr().out
        assert _row(listing, name).split()[4:] == ["no", "not", "importable"]
        assert _details(listing, name).endswith(f"; {reason}")  # the run's very reason
    assert main(["models"]) == 0
    assert _row(capsys.readouterr().out, "plug-fine").split()[4] == "yes"
