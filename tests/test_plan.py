"""``--dry-run`` files a run's records where the run files them: the same label and settings
digest for every kind of model (a factory that chooses its own precision is loaded to name it,
as the run does), so a plan counts what is done; and its estimate says what it is based on."""

from __future__ import annotations

import re
import sys

import pytest

from bench.cli import main
from bench.run.config import RunConfig
from bench.run.plan import _estimate, plan
from bench.run.store import Store

#: one elastic-set material of EMT's elements (about a second)
ELASTIC = ["--task", "elasticity", "--subset", "elastic-full", "--materials", "mp-188"]

PY = sys.executable

#: a Lennard-Jones potential of one's own: an ASE calculator without torch weights (float64)
LJ_FACTORY = """
from ase.calculators.lj import LennardJones


def make():
    return LennardJones(sigma=2.5, epsilon=0.01, rc=6.0)
"""


def _planned(capsys, argv: list[str]) -> tuple[str, str, str]:
    """(label, digest, materials line) of the one plan ``bench run ... --dry-run`` prints."""
    capsys.readouterr()
    assert main([*argv, "--dry-run"]) == 0
    text = capsys.readouterr().out
    head = re.search(r"^plan: (\S+) .*, settings (\w+)\)$", text, re.M)
    assert head, text
    counts = next(line for line in text.splitlines() if "materials:" in line)
    return head[1], head[2], counts


def _recorded(out) -> set[tuple[str, str]]:
    with Store(out) as store:
        frame = store.records()
    return set(zip(frame["model"], frame["settings_digest"], strict=True))


def _own_model(kind: str, here, module: str) -> list[str]:
    """The ``bench run`` options naming an own EMT model given as ``kind``."""
    if kind == "import path":
        return ["--model", f"{module}:make"]
    if kind == "models file":
        (here / "models.yml").write_text(f"lab-v3:\n  import: {module}:make\n")
        return ["--models-file", "models.yml", "--model", "lab-v3"]
    if kind == "own environment":  # loaded there, by bench.run.remote
        (here / "models.yml").write_text(f"env-v3:\n  import: {module}:make\n  python: {PY}\n")
        return ["--models-file", "models.yml", "--model", "env-v3"]
    return ["--model", "emt", "--name", "mine"]  # a catalogue model under --name


@pytest.mark.parametrize(
    "kind",
    [
        "import path",
        "models file",
        "catalogue --name",
        pytest.param("own environment", marks=pytest.mark.slow),  # interpreters started
    ],
)
def test_the_plan_files_the_run_under_the_label_and_digest_it_records(
    factory_folder, tmp_path, capsys, kind
):
    here, module = factory_folder
    out = tmp_path / "runs"
    argv = ["run", *_own_model(kind, here, module), *ELASTIC, "--out", str(out)]
    before = _planned(capsys, argv)
    assert not out.exists()  # the plan loaded the model, and wrote nothing
    assert main([*argv, "--quiet"]) == 0
    ((label, digest),) = _recorded(out)
    assert before[:2] == (label, digest)
    after = _planned(capsys, argv)
    assert after[:2] == (label, digest)
    assert after[2].strip() == "materials: 1: 0 to run, 1 already done"


@pytest.mark.slow  # a phonon calculation (seconds)
def test_the_plan_of_phonons_of_a_lennard_jones_factory_counts_its_records(
    factory_folder, tmp_path, capsys
):
    here, _ = factory_folder
    (here / "ljpot_plan.py").write_text(LJ_FACTORY)
    out = tmp_path / "runs"
    argv = ["run", "--model", "ljpot_plan:make", "--subset", "mdr-smoke", "--limit", "1"]
    argv += ["--out", str(out)]
    assert main([*argv, "--quiet"]) == 0
    ((_, digest),) = _recorded(out)
    label, planned, counts = _planned(capsys, argv)
    assert (label, planned) == ("ljpot_plan:make", digest)
    assert counts.strip() == "materials: 1: 0 to run, 1 already done"


def test_table_run_dry_run_plans_a_models_file_entry_under_its_recorded_digest(
    factory_folder, tmp_path, capsys
):
    here, module = factory_folder
    (here / "models.yml").write_text(f"lab-v3:\n  import: {module}:make\n")
    runs = tmp_path / "runs"
    run = ["run", "--models-file", "models.yml", "--model", "lab-v3", "--out", str(runs)]
    assert main([*run, *ELASTIC, "--quiet"]) == 0
    ((_, digest),) = _recorded(runs)
    argv = ["table", "--run", "--dry-run", "--models-file", "models.yml", "--models", "lab-v3"]
    argv += ["--runs", str(runs), "--phonon-subset", "none", "--elastic-subset", "elastic-full"]
    capsys.readouterr()
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert re.search(rf"plan: lab-v3 elasticity on elastic-full \(\S+, settings {digest}\)", text)
    assert re.search(r"materials: \d+: \d+ to run, 1 already done", text), text


def test_a_plan_for_another_machines_gpus_reads_an_own_models_precision_here(
    factory_folder, tmp_path
):
    _, module = factory_folder
    config = RunConfig(
        model=f"{module}:make",
        task="elasticity",
        subset="elastic-full",
        materials=("mp-188",),
        out_dir=str(tmp_path / "runs"),
        device="cuda",
        gpus=(0, 1),
        progress=False,
    )
    planned = plan(config)  # no CUDA here: the model is read on the CPU
    emt = plan(RunConfig(model="emt", task="elasticity", subset="elastic-full", progress=False))
    assert planned.digest == emt.digest  # EMT computes in float64, as the catalogue's runs it
    assert any("precision its factory computes in (float64)" in n for n in planned.notes)


def test_the_estimate_says_what_it_is_based_on_and_nothing_more():
    same = {"a": 2.0}
    walls = {"same": same, "any": {**same, "b": 4.0, "c": 6.0}}
    seconds, basis = _estimate(walls, ["b", "c"], 1)
    assert seconds == 10.0
    assert basis.startswith("2 of 2 materials from their own records (other settings), over 1")
    assert "median" not in basis and "the rest" not in basis
    seconds, basis = _estimate(walls, ["a", "b", "d"], 2)
    assert seconds == (2.0 + 4.0 + 2.0) / 2
    assert basis.startswith(
        "2 of 3 materials from their own records (1 at other settings), the other 1 at the "
        "median 2 s of 1 recorded (these settings), over 2 workers"
    )
    assert _estimate(walls, ["x"], 1)[1].startswith("1 at the median 2 s of 1 recorded")
