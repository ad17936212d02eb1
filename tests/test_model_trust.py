"""Rows one can trust for any model (issue 33): a run identifies its model by what it computes
(a fingerprint on fixed probe cells), checks the contract before its first material, labels
it with ``--name``, checks an own environment before any store exists, and the Python API
returns the MAE table with its intervals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.errors import ModelUnavailableError
from bench.models.external import import_target
from bench.run.probe import NOISE, fingerprint_change
from bench.run.store import Store
from bench.testing import Check

#: a lab's own potentials: EMT whose numbers a weights file scales, and broken variants
LAB = '''
import json
from pathlib import Path

from ase.calculators.emt import EMT


class Scaled(EMT):
    """EMT with energy, forces and stress times ``scale``; forces alone times ``forces``."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, scale=1.0, forces=1.0, stress=True, nan=False):
        super().__init__()
        self.scale, self.force_factor, self.has_stress, self.nan = scale, forces, stress, nan

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, ["energy", "forces", "stress"], system_changes)
        for key in ("energy", "forces", "stress"):
            self.results[key] = self.results[key] * self.scale
        self.results["forces"] = self.results["forces"] * self.force_factor
        if self.nan:
            self.results["forces"] = self.results["forces"] * float("nan")
        if not self.has_stress:
            del self.results["stress"]

    def get_stress(self, atoms=None):
        if not self.has_stress:
            from ase.calculators.calculator import PropertyNotImplementedError

            raise PropertyNotImplementedError("stress")
        return super().get_stress(atoms)


def make():
    """Reads its weights from a fixed path, as a lab's factory does."""
    weights = json.loads((Path(__file__).parent / "weights.json").read_text())
    return Scaled(scale=weights["scale"])


def doubled():
    return Scaled(forces=2.0)


def no_stress():
    return Scaled(stress=False)


def nan_forces():
    return Scaled(nan=True)


def noisy():
    print("LABPOT SAYS HELLO")
    return Scaled()


class Boom(Scaled):
    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        raise RuntimeError("boom")


def raise_all():
    return Boom()
'''

ELASTIC = ["--task", "elasticity", "--materials", "mp-10903", "--quiet"]


@pytest.fixture
def lab(tmp_path, monkeypatch, shared_data) -> tuple[Path, str]:
    """A folder with the ``LAB`` module (a unique name: modules stay imported) and its
    ``weights.json``, made the current folder: (the folder, the module name)."""
    here = tmp_path / "lab"
    here.mkdir()
    name = f"trustpot_{abs(hash(str(tmp_path))) % 10**8}"
    (here / f"{name}.py").write_text(LAB)
    (here / "weights.json").write_text('{"scale": 1.0}')
    monkeypatch.chdir(here)
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    return here, name


def _err(capsys) -> str:
    return capsys.readouterr().err


def test_retrained_weights_are_refused_and_a_comment_resumes(lab, capsys):
    here, module = lab
    run = ["run", "--model", f"{module}:make", "--name", "mine", *ELASTIC, "--out", "o"]
    assert main(run) == 0
    with Store("o") as store:
        assert set(store.records()["model"]) == {"mine"}  # --name labels the row
        manifest = store.manifests()[-1]
    assert manifest["contract_check"] == "passed"
    assert manifest["model_fingerprint"]["probes"]["Cu3Au"]["n_atoms"] == 4
    (here / "weights.json").write_text('{"scale": 1.5}')  # retrained, same path
    capsys.readouterr()
    assert main(run) == 2
    err = _err(capsys)
    assert "computes otherwise (probe Cu3Au: energy" in err and "--name" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    (here / "weights.json").write_text('{"scale": 1.0}')
    source = here / f"{module}.py"
    source.write_text(source.read_text() + "\n# a comment changes no number\n")
    assert main(run) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["table", "--runs", "o", "--out", "tab", "--recorded-only"]) == 0
    assert "| mine |" in (here / "tab" / "table2.md").read_text()


def test_a_broken_model_is_refused_before_its_first_material(lab, capsys):
    _, module = lab
    run = ["run", "--model", f"{module}:doubled", *ELASTIC, "--out", "o"]
    assert main(run) == 1
    err = _err(capsys)
    assert "fails the contract before its first material" in err
    assert any(line.startswith("forces = −dE/dx (Cu3Au)") for line in err.splitlines())
    assert " FAIL " in err and "--no-check" in err
    assert not Path("o").exists()  # no store made
    assert main([*run, "--no-check"]) == 0
    with Store("o") as store:
        assert store.manifests()[-1]["contract_check"] == "skipped (--no-check)"


def test_a_model_without_stress_is_told_which_task_needs_it(lab, capsys):
    _, module = lab
    assert main(["run", "--model", f"{module}:no_stress", *ELASTIC, "--out", "o"]) == 1
    err = _err(capsys)
    assert "stress present" in err and "elasticity needs it: it fits the stress" in err


def test_check_model_gives_every_defect_as_a_row(lab, capsys):
    _, module = lab
    for factory, row in (("no_stress", "stress present"), ("nan_forces", "shapes, finite")):
        assert main(["check-model", f"{module}:{factory}", "--name", "lab"]) == 1
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err and captured.err == ""
        assert captured.out.startswith("lab (")
        assert any(row in line and "FAIL" in line for line in captured.out.splitlines())


def test_table_run_takes_a_models_file_and_threads(lab, capsys):
    here, module = lab
    (here / "models.yml").write_text(f"broken:\n  import: {module}:doubled\n")
    argv = ["table", "--run", "--models", "broken", "--models-file", "models.yml"]
    argv += ["--threads", "1", "--runs", "r", "--out", "tab", "--quiet"]
    assert main(argv) == 1
    assert "skipped: model broken fails the contract" in capsys.readouterr().out
    assert main([*argv[:3], "emt,broken", *argv[4:], "--name", "x"]) == 2  # one model only
    assert "--name labels one model" in capsys.readouterr().err


def test_api_returns_the_mae_table_and_keeps_the_package_quiet(lab, capsys, monkeypatch):
    import bench

    here, module = lab
    monkeypatch.syspath_prepend(str(here))
    target = __import__(module)
    frame = bench.benchmark(
        target.noisy, name="quiet", task="elasticity", materials=["mp-10903"], out="api"
    )
    assert list(frame["status"]) == ["ok"]
    mae = frame.attrs["mae"]
    assert {"K_GPa", "K_GPa.lo", "K_GPa.hi", "n_K_GPa"} <= set(mae.columns)
    assert frame.attrs["run"]["model"] == "quiet"
    assert "LABPOT SAYS HELLO" not in capsys.readouterr().out
    assert "LABPOT SAYS HELLO" in Path("api/bench-run.log").read_text()


def test_own_environment_problems_are_one_line(lab, tmp_path, capsys):
    here, module = lab
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    (here / "models.yml").write_text(
        f"ghost:\n  import: {module}:make\n  python: /nonexistent/bin/python\n"
        f"bare:\n  import: {module}:make\n  python: {bare}/bin/python\n"
    )
    for name, says, fix in (
        ("ghost", "python /nonexistent/bin/python does not exist", "bench env create NAME"),
        ("bare", f"python {bare}/bin/python cannot import bench", "-m pip install -e"),
    ):
        argv = ["run", "--models-file", "models.yml", "--model", name, *ELASTIC, "--out", name]
        assert main(argv) == 1
        err = _err(capsys)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert says in err and fix in err, err
        assert not Path(name).exists()


def test_env_create_makes_an_environment_with_bench(monkeypatch, tmp_path, capsys):
    from bench.models import ownenv

    calls = []
    monkeypatch.setenv("BENCH_ENVS", str(tmp_path / "envs"))
    monkeypatch.setattr(ownenv, "call", lambda command, what: calls.append(command))
    argv = ["env", "create", "lab", "--python", sys.executable, "--packages", "ase", "numpy"]
    assert main(argv) == 0
    root = tmp_path / "envs" / "lab"
    assert calls[0] == [sys.executable, "-m", "venv", str(root)]
    assert calls[1][-2:] == ["-e", str(ownenv.CHECKOUT)]
    assert calls[2][-2:] == ["ase", "numpy"]
    assert f"python: {root}/bin/python" in capsys.readouterr().out


def test_python_m_bench():
    done = subprocess.run([sys.executable, "-m", "bench", "--help"], capture_output=True)
    assert done.returncode == 0 and b"check-model" in done.stdout


def test_import_errors_say_which_part_was_missing(tmp_path, monkeypatch):
    (tmp_path / "halfpot.py").write_text("import not_installed_pkg\n")
    (tmp_path / "okpot.py").write_text("def make():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for target, says in (
        ("nopot_xyz:make", "no module nopot_xyz"),
        ("okpot:mkae", "module okpot was found, but okpot has no attribute 'mkae'"),
        ("halfpot:make", "module halfpot needs not_installed_pkg"),
    ):
        with pytest.raises(ModelUnavailableError, match=says):
            import_target(target, [])


def _print(probes: dict) -> dict:
    return {"precision": "float32", "device": "cpu", "probes": probes}


def test_fingerprint_noise_and_unknown():
    forces = np.zeros((2, 3)).tolist()
    old = {"n_atoms": 2, "energy_eV": -7.0, "forces_eV_per_A": forces, "stress_eV_per_A3": [0] * 6}
    tol_e = NOISE["float32"][0]
    near = {**old, "energy_eV": -7.0 + tol_e}  # within float32 noise (per atom)
    far = {**old, "energy_eV": -7.0 + 4 * tol_e}
    assert fingerprint_change(_print({"NaCl": old}), _print({"NaCl": near})) is None
    assert "energy" in fingerprint_change(_print({"NaCl": old}), _print({"NaCl": far}))
    gone = {"n_atoms": 2, "error": "KeyError: Na"}
    assert "now KeyError" in fingerprint_change(_print({"NaCl": old}), _print({"NaCl": gone}))
    assert fingerprint_change(None, _print({"NaCl": old})) is None  # records before: unknown
    assert json.loads(json.dumps(_print({"NaCl": old}))) == _print({"NaCl": old})


@pytest.mark.slow
def test_check_model_of_an_own_environment_entry_runs_there(lab, capsys):
    """``python:`` of a models-file entry: check-model loads and checks the model in that
    interpreter (a subprocess), and a run probes it there before its first material."""
    here, module = lab
    (here / "models.yml").write_text(
        f"own:\n  import: {module}:make\n  python: {sys.executable}\n"
        f"own-broken:\n  import: {module}:doubled\n  python: {sys.executable}\n"
    )
    assert main(["check-model", "own", "--models-file", "models.yml"]) == 0
    assert f"; in {sys.executable}):" in capsys.readouterr().out
    argv = ["run", "--models-file", "models.yml", "--model", "own-broken", *ELASTIC]
    assert main([*argv, "--out", "o"]) == 1
    assert "fails the contract before its first material" in capsys.readouterr().err
    assert not Path("o").exists()


def test_a_model_of_other_elements_is_not_refused():
    """A model that takes none of the probe cells' elements is not judged by them."""
    from ase.calculators.emt import EMT

    from bench.models.loaded import LoadedModel
    from bench.run.probe import probe

    class Picky(EMT):
        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            if "Ag" not in atoms.get_chemical_symbols():
                raise KeyError("only silver")
            super().calculate(atoms, properties, system_changes)

    model = LoadedModel(key="picky", calculator=Picky(), device="cpu", dtype="native")
    (check,) = [Check(**c) for c in probe(model, {"elasticity": "x"})["checks"]]
    assert check.passed is None and "only silver" in check.value


def test_a_model_of_other_elements_is_checked_on_the_runs_materials():
    """No probe cell evaluates: the check is made on the run's materials (``fallback``)."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from bench.models.loaded import LoadedModel
    from bench.run.probe import probe

    class Picky(EMT):
        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            if "Ag" not in atoms.get_chemical_symbols():
                raise KeyError("only silver")
            super().calculate(atoms, properties, system_changes)

    silver = bulk("Ag", cubic=True)
    silver.rattle(0.03, seed=1)
    model = LoadedModel(key="picky", calculator=Picky(), device="cpu", dtype="native")
    found = probe(model, {"elasticity": "x"}, fallback=lambda: {"mp-124": silver})
    checks = [Check(**c) for c in found["checks"]]
    assert found["on_materials"] and all(c.passed for c in checks), checks
    assert any(c.name == "forces = −dE/dx (mp-124)" for c in checks)
    assert "mp-124" not in found["fingerprint"]["probes"]  # the identity stays the probes'
    gold = bulk("Au", cubic=True)
    found = probe(model, {"elasticity": "x"}, fallback=lambda: {"mp-81": gold})
    (check,) = [Check(**c) for c in found["checks"]]
    assert (
        check.passed is False
        and check.value == "KeyError: 'only silver' (NaCl, MgO, Si, Cu3Au, mp-81)"
    )
    found = probe(model, {"elasticity": "x"}, fallback=lambda: {})  # none readable or small
    (check,) = [Check(**c) for c in found["checks"]]
    assert check.passed is None and found["on_materials"]  # not judged, and the run's alone


def test_the_runs_materials_that_cannot_be_read_are_left_to_their_own_failure(tmp_path):
    """A missing data folder gives no cells (not judged), never a model's failure."""
    from bench.run.probe import material_cells, material_fallback

    assert material_fallback("mp-binary-pbe-elasticity-2025.1", []) is None
    assert material_cells("mdr-pbe", ["mp-1", "mp-2"], tmp_path / "nowhere") == {}


def test_a_model_that_raises_on_every_cell_is_refused_with_why(lab, capsys, shared_data):
    _, module = lab
    run = ["run", "--model", f"{module}:raise_all", *ELASTIC, "--out", "o"]
    run += ["--data-dir", str(shared_data)]
    assert main(run) == 1
    err = _err(capsys)
    assert "evaluates a probe cell or a material of the run" in err
    assert "RuntimeError: boom (NaCl, MgO, Si, Cu3Au, mp-10903)" in err, err
    assert not Path("o").exists()  # no store made
    assert main([*run, "--no-check"]) == 0  # every material then fails, counted
    with Store("o") as store:
        assert set(store.records()["status"]) == {"failed"}


@pytest.mark.slow
def test_in_its_own_environment_the_check_reads_the_runs_materials(lab, capsys, shared_data):
    """The same refusal when the model runs in another interpreter (``python:``): the run's
    materials and data folder reach the probe there (``--probe-materials``, ``--data-dir``)."""
    here, module = lab
    models = f"own-boom:\n  import: {module}:raise_all\n  python: {sys.executable}\n"
    (here / "models.yml").write_text(models)
    run = ["run", "--models-file", "models.yml", "--model", "own-boom", *ELASTIC, "--out", "o"]
    assert main([*run, "--data-dir", str(shared_data)]) == 1
    assert "RuntimeError: boom (NaCl, MgO, Si, Cu3Au, mp-10903)" in _err(capsys)
    assert not Path("o").exists()


def test_the_manifest_says_when_no_check_could_be_made():
    from types import SimpleNamespace

    from bench.run.precheck import check_state

    config = SimpleNamespace(check=True)

    def checks(*passed):
        return {
            "checks": [
                dict(name=f"c{i}", passed=p, value="x", tolerance="") for i, p in enumerate(passed)
            ]
        }

    assert check_state(config, checks(None)).startswith("not judged (c0: x")
    assert check_state(config, checks(True, None)) == "passed"
    assert check_state(config, checks(True, False)) == "failed"


def test_a_factory_that_returns_a_class_is_one_line(lab, capsys):
    _, module = lab
    source = Path(f"{module}.py")
    source.write_text(source.read_text() + "\n\ndef the_class():\n    return Scaled\n")
    assert main(["run", "--model", f"{module}:the_class", *ELASTIC, "--out", "o"]) == 1
    err = _err(capsys)
    assert "returned the class Scaled, not a calculator" in err
    assert len(err.strip().splitlines()) == 1 and not Path("o").exists()
