"""The docs the tests keep true: every dotted ``bench.…`` name and every repository path named in
the READMEs, docstrings and configuration comments exists, and README's ``bench run`` options
are argparse's (both ways)."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from bench.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
#: names that look like ``bench.…`` or a repository path but are not one, and why
NOT_NAMES = {
    "bench.sqlite": "the store's file name",
    "bench/_datasets": "where the wheel puts datasets/ (pyproject force-include)",
}
DOTTED = re.compile(r"(?<![\w/.-])bench(?:\.[A-Za-z_]\w*)+")
TOP = r"(?:bench|tests|results|datasets|\.ci)"
REPO_PATH = re.compile(rf"(?<![\w/.~-])({TOP}/[\w./<>*{{}}-]*[\w*>}}/])")


def _docstrings(path: Path) -> str:
    """The module's, its classes' and its functions' docstrings."""
    nodes = ast.walk(ast.parse(path.read_text()))
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return "\n".join(ast.get_docstring(n) or "" for n in nodes if isinstance(n, kinds))


def _texts() -> dict[str, str]:
    """Where names are written for readers: READMEs, docstrings, configuration comments."""
    texts = {"README.md": (ROOT / "README.md").read_text()}
    for path in sorted((ROOT / "results").rglob("README.md")):
        texts[str(path.relative_to(ROOT))] = path.read_text()
    for path in sorted((ROOT / "bench").rglob("*.py")):
        texts[str(path.relative_to(ROOT))] = _docstrings(path)
    for name in ("pyproject.toml", "Makefile", "bench/models/catalogue.toml"):
        texts[name] = (ROOT / name).read_text()
    return texts


TEXTS = _texts()


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` is an importable module, or an attribute path inside one."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def _exists(path: str) -> bool:
    """A repository path; ``<placeholder>`` and ``*`` match at least one file."""
    pattern = re.sub(r"<[^>]+>|\{[^}]+\}", "*", path.rstrip("/"))
    return any(ROOT.glob(pattern)) if "*" in pattern else (ROOT / pattern).exists()


def _named(regex: re.Pattern) -> list[tuple[str, str]]:
    found = {(m, where) for where, text in TEXTS.items() for m in regex.findall(text)}
    return sorted((m, where) for m, where in found if m.rstrip("/") not in NOT_NAMES)


def test_every_dotted_bench_name_resolves():
    names = _named(DOTTED)
    assert len(names) > 30  # the scan finds them
    missing = [f"{name} (in {where})" for name, where in names if not _resolves(name)]
    assert not missing, "names that do not resolve:\n" + "\n".join(missing)


def test_every_repository_path_exists():
    paths = _named(REPO_PATH)
    assert len(paths) > 30
    missing = [f"{path} (in {where})" for path, where in paths if not _exists(path)]
    assert not missing, "paths that do not exist:\n" + "\n".join(missing)


def _subparser(*names: str):
    parser = build_parser()
    for name in names:
        action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = action.choices[name]
    return parser


def _flags(parser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings if s.startswith("--")}


def _readme_section(title: str) -> str:
    text = TEXTS["README.md"]
    start = text.index(f"\n## {title}\n")
    return text[start : text.index("\n## ", start + 1)]


def test_readme_run_options_are_argparses_both_ways():
    """Every flag of the README's ``bench run`` options paragraph is an option of ``bench
    run``, and every option of ``bench run`` is described in README's Running section."""
    section = _readme_section("Running")
    paragraph = section[section.index("`bench run` options:") :].split("\n\n")[0]
    written = set(re.findall(r"--[a-z][a-z-]*", paragraph))
    run = _flags(_subparser("run"))
    assert written - run == set(), "README names options bench run does not have"
    undocumented = run - {"--help"} - set(re.findall(r"--[a-z][a-z-]*", section))
    assert undocumented == set(), "undocumented in README"


def test_bench_speed_actions_have_their_own_options(capsys):
    """``bench speed ACTION --help`` lists that action's options only."""
    from bench.commands.speed import ACTIONS

    flags = {action: _flags(_subparser("speed", action)) for action in ACTIONS}
    assert "--sizes" in flags["forward"] and "--subset" not in flags["forward"]
    assert {"--subset", "--protocol"} <= flags["matcalc"] and "--sizes" not in flags["matcalc"]
    assert flags["peaks"] == {"--help", "--model", "--out", "--records", "--since", "--until"}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["speed", "forward", "--help"])
    assert "--records" not in capsys.readouterr().out


def _command_lines() -> list[tuple[str, str]]:
    """Every ``bench …`` command in the READMEs' code blocks (comments cut off)."""
    found = []
    for where, text in TEXTS.items():
        if not where.endswith("README.md"):
            continue
        for block in re.findall(r"```bash\n(.*?)```", text, re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #")[0].strip()
                for prefix in ("bench ", ".venv/bin/bench "):
                    if line.startswith(prefix):
                        found.append((line[len(prefix) :], where))
    return found


def test_every_readme_command_parses():
    """Each ``bench …`` line of a README's code blocks is a valid command line (its options
    exist, its choices are allowed)."""
    import shlex

    commands = _command_lines()
    assert len(commands) > 20
    parser = build_parser()
    bad = []
    for line, where in commands:
        try:
            parser.parse_args(shlex.split(line))
        except SystemExit:
            bad.append(f"bench {line} (in {where})")
    assert not bad, "commands that do not parse:\n" + "\n".join(bad)
