"""The task registry is the only place that knows a task: no module outside ``bench/tasks/``
names one (CLI defaults in ``bench/commands/`` excepted); what the report, the CLI and the
scheduler need of a task comes from its ``TASK``."""

from __future__ import annotations

import ast
from pathlib import Path

from bench.tasks import TASKS

BENCH = Path(__file__).resolve().parents[1] / "bench"
#: string constants equal to a task name that are not one: (file, value) -> why
NOT_TASKS = {("datasets/matcalc.py", "lattice"): "a pymatgen structure dict's key"}


def _task_literals(path: Path) -> list[str]:
    """String constants of ``path`` that name a task ("phonons", "equigrad.md", ...)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        value = node.value
        if " " not in value and value.split(".")[0].split("_")[0] in TASKS:
            found.append((node.lineno, value))
    return [f"{line}: {value!r}" for line, value in sorted(found)]


def test_no_task_name_outside_the_registry():
    skip = {"tasks", "commands"}
    bad = []
    for path in sorted(BENCH.rglob("*.py")):
        rel = path.relative_to(BENCH)
        if rel.parts[0] in skip:
            continue
        for hit in _task_literals(path):
            value = hit.split(": ", 1)[1].strip("'")
            if (str(rel), value) not in NOT_TASKS:
                bad.append(f"bench/{rel}:{hit}")
    assert not bad, "task names outside bench/tasks (use the Task's fields):\n" + "\n".join(bad)


def test_the_scan_finds_a_task_name(tmp_path):
    (tmp_path / "m.py").write_text('x = records["task"] == "phonons"\ny = "equigrad.md"\n')
    assert _task_literals(tmp_path / "m.py") == ["1: 'phonons'", "2: 'equigrad.md'"]


def test_report_and_cli_read_tasks_from_the_registry():
    """Flags, subset options, paper sets, site sections and help come from each TASK."""
    from bench.cli import build_parser
    from bench.report.markdown import TASK_FLAGS
    from bench.report.site import SECTIONS
    from bench.report.table import PAPER_SETS

    for name, task in TASKS.items():
        if task.count_flag:
            assert TASK_FLAGS[name] == task.count_flag
        if task.paper_dataset:
            assert PAPER_SETS[name] == task.paper_dataset
        for key, _, subsets in SECTIONS:
            assert subsets.get(name) == task.report_subsets.get(key)
    table = build_parser().parse_args(["table"])
    for task in TASKS.values():
        if task.subset_option:
            assert getattr(table, task.subset_option.replace("-", "_")) == task.default_subset
    help_text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    for task in TASKS.values():
        assert all(p in help_text for p in task.protocols)


def test_a_failure_keeps_what_the_task_knew_by_one_rule():
    """``failing_with``: the error's values stay, its details extend the task's, the task's
    reference unless the error carries one."""
    import pytest

    from bench.errors import NotConvergedError
    from bench.tasks.base import failing_with

    with pytest.raises(NotConvergedError) as caught, failing_with({"a": 1}, {"source": "f"}):
        raise NotConvergedError("x", partial={"values": {"v": 2}, "details": {"steps": 3}})
    assert caught.value.partial == {
        "values": {"v": 2},
        "details": {"source": "f", "steps": 3},
        "ref": {"a": 1},
    }
    with pytest.raises(NotConvergedError) as caught, failing_with({"a": 1}, {}):
        raise NotConvergedError("x", partial={"ref": {"a": 5}})
    assert caught.value.partial["ref"] == {"a": 5}
