"""Validation that knows physics, and options that say what is wrong (issue 34): settings out
of their physical range, records that no run writes, references no crystal has, and the
options a user gives twice or wrong each end in one line naming the option or the file, or
in the material's recorded failure."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from ase.build import bulk

from bench.cli import main
from bench.datasets.matcalc import structure_to_atoms
from bench.datasets.reference import MalformedReferenceError, PhononReference
from bench.errors import MaterialError
from bench.run.records import is_records_dir
from tests.test_trust import RUN, _copy_tree, _group, _one_line, emt_records  # noqa: F401

# --- settings ------------------------------------------------------------------------------

BAD_SETTINGS = [
    ("phonons", "mesh=1e9", "mesh must be in (0, 400]"),
    ("phonons", "displacement_A=10", "beyond the harmonic regime"),
    ("phonons", "temperatures_K=[0,300,1e9]", "melting point"),
    ("phonons", "supercell_min_length_A=1e4", "supercell_min_length_A must be in"),
    ("phonons", "relax.fmax_eV_per_A=5", "no relaxation"),
    ("phonons", "relax.max_passes=100000000", "steps_per_pass x max_passes"),
    ("elasticity", "norm_strains=[.nan,0.01]", "JSON list of numbers"),
    ("elasticity", "norm_strains=[NaN,0.01]", "finite"),
    ("elasticity", "shear_strains=[0.3]", "beyond 20 %"),
    ("equigrad", "fd_steps_rad=[3,1]", "(0, 0.5] rad"),
    ("phonons", "relax=3", "a group of settings"),
]


@pytest.mark.parametrize(("task", "item", "reason"), BAD_SETTINGS)
def test_a_setting_out_of_its_range_is_one_line_with_the_reason(
    task, item, reason, shared_data, tmp_path, capsys
):
    argv = ["run", "--model", "emt", "--task", task, "--set", item, "--quiet"]
    line = _one_line(capsys, 2, main([*argv, "--out", str(tmp_path / "o")]))
    assert f"--set {item.split('=')[0]}" in line and reason in line, line
    assert not (tmp_path / "o").exists()


def test_an_empty_protocol_name_is_refused(tmp_path, capsys):
    argv = ["run", "--model", "emt", "--task", "elasticity", "--protocol", ""]
    line = _one_line(capsys, 2, main([*argv, "--out", str(tmp_path / "o")]))
    assert "--protocol ''" in line and "matcalc" in line


# --- records -------------------------------------------------------------------------------

BAD_RECORDS = {
    "status pwned": ({"status": "pwned"}, "status 'pwned' is not one of"),
    "created_at not a date": ({"created_at": "not a date"}, "not an ISO 8601 time"),
    "a value of 1e308": ({"values": {"K_GPa": 1e308, "G_GPa": 1.0}}, "beyond ±1e+06"),
    "a string value": ({"values": {"K_GPa": "12", "G_GPa": 1.0}}, "a str, not a number"),
    "a string reference": ({"ref": {"K_GPa": "x"}}, "a str, not a number"),
}


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_a_record_no_run_writes_is_refused_naming_its_part(case, emt_records, tmp_path, capsys):  # noqa: F811
    _, source, record = emt_records
    root = tmp_path / "records"
    _copy_tree(source, root)
    (part,) = _group(root, record).glob("part-*.jsonl.gz")
    change, reason = BAD_RECORDS[case]
    with gzip.open(part, "wt") as handle:
        handle.write(json.dumps({**record, **change}) + "\n")
    for argv in (["summary", "--out", str(root)], ["export", "--out", str(root)]):
        extra = ["--to", str(tmp_path / "x.csv")] if argv[0] == "export" else []
        line = _one_line(capsys, 1, main([*argv, *extra]))
        assert str(part) in line and reason in line, line


def test_an_ok_record_beyond_the_plausible_is_the_materials_failure(monkeypatch):
    """Moduli of 1e10 GPa are recorded as an ImplausibleValueError failure, not as an ok
    record that a records folder would then refuse."""
    import dataclasses

    from bench.models import load_model
    from bench.tasks import TASKS, Material, run_one

    def wild(model, material, settings, batch):
        return {"values": {"K_GPa": 1e10, "G_GPa": 1.0}, "ref": {"K_GPa": 1.0, "G_GPa": 1.0}}

    task = TASKS["elasticity"]
    monkeypatch.setitem(TASKS, "elasticity", dataclasses.replace(task, evaluate=wild))
    material = Material("mp-binary-pbe-elasticity-2025.1", "mp-10903")
    record = run_one("elasticity", load_model("emt"), material, task.settings_cls())
    assert (record["status"], record["error_type"]) == ("failed", "ImplausibleValueError")
    assert "K_GPa = 1e+10, beyond" in record["error_message"]


# --- reference data ------------------------------------------------------------------------


def test_a_reference_cell_of_a_million_angstrom_is_malformed():
    atoms = bulk("Cu", "fcc", a=3.6)
    structure = {
        "lattice": {"matrix": (atoms.cell.array * 3e5).tolist()},
        "sites": [{"species": [{"element": "Cu", "occu": 1}], "abc": [0, 0, 0]}],
    }
    with pytest.raises(MalformedReferenceError, match="outside 1-500 Å"):
        structure_to_atoms(structure)
    assert issubclass(MalformedReferenceError, MaterialError)  # the material's failure
    structure["lattice"]["matrix"] = atoms.cell.array.tolist()
    assert len(structure_to_atoms(structure)) == 1


def test_a_supercell_of_60x60x60_is_refused_before_it_is_built():
    from bench.physics.phonons import supercell_matrix
    from bench.settings import PhononSettings

    atoms = bulk("NaCl", "rocksalt", a=5.64)
    ref = PhononReference(
        "mp-x", "mdr-pbe", atoms, np.diag([60, 60, 60]), None, None, {}, "mp-x.yaml", "0"
    )
    with pytest.raises(MalformedReferenceError, match="432000 atoms"):
        supercell_matrix(atoms, ref, PhononSettings())
    ref.supercell_matrix = np.diag([2, 2, 2])
    assert supercell_matrix(atoms, ref, PhononSettings()).tolist() == np.diag([2, 2, 2]).tolist()


def test_an_mdr_file_asking_for_a_huge_supercell_is_malformed(shared_data):
    from pathlib import Path

    from bench.datasets.mdr import build_phonopy, read_yaml

    (path,) = sorted(Path(shared_data, "mdr").rglob("*.yaml*"))[:1]
    raw = read_yaml(path)
    raw["supercell_matrix"] = np.diag([60, 60, 60]).tolist()
    with pytest.raises(MalformedReferenceError) as err:
        build_phonopy(raw, path)
    assert str(err.value).startswith(f"{path.name}: a supercell of")  # said once, not wrapped
    assert "above bench's limit" in str(err.value) and "bad phonopy data" not in str(err.value)
    raw = read_yaml(path)
    raw["unit_cell"]["lattice"] = (np.asarray(raw["unit_cell"]["lattice"]) * 3e5).tolist()
    with pytest.raises(MalformedReferenceError) as err:
        build_phonopy(raw, path)
    assert str(err.value).startswith(f"{path.name}: lattice vectors of")


# --- options ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "--model", "emt", "--model", "chgnet"], "--model given twice"),
        (["summary", "--model", "a", "--model", "b"], "--model given twice"),
        (["check-model", "emt", "--checkpoint", "a", "--checkpoint", "b"], "--checkpoint given"),
        (["run", "--model", "emt", "--protocol", "mdr", "--protocol", "matcalc"], "--protocol"),
    ],
)
def test_an_option_that_names_what_is_measured_given_twice_is_a_usage_error(argv, says, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and says in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["x=1", "x=2"], "--model-arg x given twice"),
        (["x=!!python/object/apply:os.system [echo]"], "could not determine a constructor"),
        (["x=2020-01-01"], "a date, not a plain value"),
        (["x=!!binary aGk="], "a bytes, not a plain value"),
    ],
)
def test_a_model_arg_that_is_no_plain_value_is_refused(args, says, capsys):
    argv = ["check-model", "ase.calculators.emt:EMT"]
    for item in args:
        argv += ["--model-arg", item]
    line = _one_line(capsys, 2, main(argv))
    assert says in line


def test_a_scheduler_that_is_no_address_is_refused(tmp_path, capsys):
    argv = [*RUN, "--executor", "dask", "--scheduler", "not a url", "--out", str(tmp_path)]
    line = _one_line(capsys, 2, main(argv))
    assert "--scheduler 'not a url' is not a dask scheduler address" in line


def test_bench_data_naming_a_file_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("BENCH_DATA", str(tmp_path / "file"))
    line = _one_line(capsys, 2, main(["datasets"]))
    assert "$BENCH_DATA" in line and "is not a folder" in line


def test_records_push_to_the_stores_own_folder_is_refused(emt_records, capsys):  # noqa: F811
    out, _, _ = emt_records
    line = _one_line(capsys, 2, main(["records", "push", "--out", str(out), "--to", str(out)]))
    assert "holds a results store" in line


def test_a_report_with_nothing_to_show_is_one_line(emt_records, tmp_path, capsys):  # noqa: F811
    """Records only of materials no section shows (was: No objects to concatenate)."""
    _, source, record = emt_records
    root = tmp_path / "records"
    _copy_tree(source, root)
    (part,) = _group(root, record).glob("part-*.jsonl.gz")
    with gzip.open(part, "wt") as handle:
        handle.write(json.dumps({**record, "material_id": "mp-99999999"}) + "\n")
    argv = ["report", "--runs", str(root), "--out", str(tmp_path / "site")]
    line = _one_line(capsys, 2, main(argv))
    assert "nothing to report" in line and "mdr-50" in line and "elastic-smoke" in line


def test_summary_of_a_folder_looks_for_parts_only_to_a_groups_depth(tmp_path, capsys):
    deep = tmp_path.joinpath(*"abcdef")
    deep.mkdir(parents=True)
    (deep / "part-2099-x.jsonl.gz").write_bytes(b"")
    assert not is_records_dir(tmp_path)
    line = _one_line(capsys, 2, main(["summary", "--out", str(tmp_path)]))
    assert "no results in" in line
    shallow = tmp_path / "m" / "t" / "d" / "g"
    shallow.mkdir(parents=True)
    (shallow / "part-2099-x.jsonl.gz").write_bytes(b"")
    assert is_records_dir(tmp_path)


# --- a signal's message -------------------------------------------------------------------


def test_a_stop_says_nothing_is_stored_where_nothing_is(monkeypatch, tmp_path, capsys):
    import bench.commands.results as results

    def stopped(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(results, "cmd_summary", stopped)
    assert main(["summary", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert "nothing was stored" in err and "finished materials are stored" not in err


def test_a_stopped_run_names_what_it_stored(shared_data, tmp_path, monkeypatch, capsys):
    from bench.run.progress import Progress

    done = Progress.done

    def stop_after_one(self, record):
        done(self, record)
        raise KeyboardInterrupt

    monkeypatch.setattr(Progress, "done", stop_after_one)
    out = tmp_path / "o"
    argv = [*RUN, "--materials", "mp-10903,mp-1031", "--out", str(out)]
    assert main([*argv, "--data-dir", str(shared_data)]) == 130
    err = capsys.readouterr().err
    assert f"finished materials are stored (1 in {out})" in err
