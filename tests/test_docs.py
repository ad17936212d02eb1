"""The docs the tests keep true: every dotted ``bench.…`` name and every repository path named in
the READMEs, the documentation pages (``docs/*.md``), docstrings and configuration comments
exists, every ``bench …`` command in their code blocks parses, the ``bench run`` options of
``docs/getting-started.md`` are argparse's (both ways), ``mkdocs.yml``'s nav and ``docs/`` list
the same pages, the protocol tables of ``docs/protocols.md`` are the code's settings with the
source lines cited beside them, and README stays a front page (at most 200 lines, the two
commands first, its own-model example and headline table those of the docs and results)."""

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
TOP = r"(?:bench|tests|results|datasets|docs|\.ci)"
REPO_PATH = re.compile(rf"(?<![\w/.~-])({TOP}/[\w./<>*{{}}-]*[\w*>}}/])")


def _docstrings(path: Path) -> str:
    """The module's, its classes' and its functions' docstrings."""
    nodes = ast.walk(ast.parse(path.read_text()))
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return "\n".join(ast.get_docstring(n) or "" for n in nodes if isinstance(n, kinds))


def _texts() -> dict[str, str]:
    """Where names are written for readers: READMEs, docstrings, configuration comments."""
    texts = {"README.md": (ROOT / "README.md").read_text()}
    for path in sorted((ROOT / "docs").glob("*.md")):
        texts[str(path.relative_to(ROOT))] = path.read_text()
    for path in sorted((ROOT / "results").rglob("README.md")):
        texts[str(path.relative_to(ROOT))] = path.read_text()
    for path in sorted((ROOT / "bench").rglob("*.py")):
        texts[str(path.relative_to(ROOT))] = _docstrings(path)
    for name in ("pyproject.toml", "Makefile", "bench/models/catalogue.toml", "mkdocs.yml"):
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


def _section(where: str, title: str) -> str:
    """The ``## title`` section of a page, up to the next ``## `` heading."""
    text = TEXTS[where]
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def test_run_options_are_argparses_both_ways():
    """Every flag of the ``bench run`` options paragraph (docs/getting-started.md) is an option
    of ``bench run``, and every option of ``bench run`` is described in that Running section."""
    section = _section("docs/getting-started.md", "Running")
    paragraph = section[section.index("`bench run` options:") :].split("\n\n")[0]
    written = set(re.findall(r"--[a-z][a-z-]*", paragraph))
    run = _flags(_subparser("run"))
    assert written - run == set(), "the docs name options bench run does not have"
    undocumented = run - {"--help"} - set(re.findall(r"--[a-z][a-z-]*", section))
    assert undocumented == set(), "undocumented in docs/getting-started.md"


def test_bench_speed_actions_have_their_own_options(capsys):
    """``bench speed ACTION --help`` lists that action's options only."""
    from bench.commands.speed import ACTIONS

    flags = {action: _flags(_subparser("speed", action)) for action in ACTIONS}
    assert "--sizes" in flags["forward"] and "--subset" not in flags["forward"]
    assert {"--subset", "--protocol"} <= flags["matcalc"] and "--sizes" not in flags["matcalc"]
    peaks = {"--help", "--debug", "--model", "--out", "--records", "--since", "--until"}
    assert flags["peaks"] == peaks
    with pytest.raises(SystemExit):
        build_parser().parse_args(["speed", "forward", "--help"])
    assert "--records" not in capsys.readouterr().out


def _command_lines() -> list[tuple[str, str]]:
    """Every ``bench …`` command in the READMEs' and docs pages' code blocks (comments cut
    off)."""
    found = []
    for where, text in TEXTS.items():
        if not (where.endswith("README.md") or where.startswith("docs/")):
            continue
        for block in re.findall(r"```bash\n(.*?)```", text, re.S):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #")[0].strip()
                for prefix in ("bench ", ".venv/bin/bench "):
                    if line.startswith(prefix):
                        found.append((line[len(prefix) :], where))
    return found


def test_every_readme_command_parses():
    """Each ``bench …`` line of a README's or docs page's code blocks is a valid command line
    (its options exist, its choices are allowed)."""
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


def _nav_pages(nav: list) -> list[str]:
    """The page files an mkdocs nav names, depth first."""
    pages = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_mkdocs_nav_and_docs_folder_list_the_same_pages():
    """Every page of the nav exists, and every page in docs/ is in the nav (once)."""
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = _nav_pages(config["nav"])
    on_disk = sorted(str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md"))
    assert len(nav) == len(set(nav)), "a page twice in the nav"
    assert sorted(nav) == on_disk


def _setting_rows(path: str, name: str, prefix: str = "") -> list[str]:
    """Table rows ``| `field` | `default` | `source line` |`` for each field of the settings
    class (or the settings call assigned to) ``name`` in ``path`` that cites its source in a
    trailing comment; a nested ``relax`` call's fields as ``relax.<field>``."""
    text = (ROOT / path).read_text()
    lines = text.splitlines()
    node = next(
        n
        for n in ast.walk(ast.parse(text))
        if (isinstance(n, ast.ClassDef) and n.name == name)
        or (isinstance(n, ast.Assign) and any(getattr(x, "id", None) == name for x in n.targets))
    )
    if isinstance(node, ast.ClassDef):
        items = [(s.target.id, s.value) for s in node.body if isinstance(s, ast.AnnAssign)]
    else:
        items = [(k.arg, k.value) for k in node.value.keywords]
    rows = []
    for field, value in items:
        if value is None:
            continue
        if field == "relax" and isinstance(value, ast.Call) and value.keywords:
            nested = [(k.arg, k.value) for k in value.keywords]
            rows += _rows_of(text, lines, nested, f"{prefix}relax.")
            continue
        rows += _rows_of(text, lines, [(field, value)], prefix)
    return rows


def _rows_of(text: str, lines: list[str], items: list, prefix: str) -> list[str]:
    rows = []
    for field, value in items:
        line = lines[value.end_lineno - 1]
        if "  # " in line:
            source = line.split("  # ", 1)[1].strip()
            default = ast.get_source_segment(text, value)
            rows.append(f"| `{prefix}{field}` | `{default}` | `{source}` |")
    return rows


PROTOCOL_TABLES = [
    ("bench/settings.py", "RelaxSettings", "relax."),
    ("bench/settings.py", "PhononSettings", ""),
    ("bench/tasks/phonons.py", "MATCALC_PHONONS", ""),
    ("bench/physics/elasticity.py", "ElasticSettings", ""),
]


def test_protocol_tables_are_the_settings_and_their_source_lines():
    """docs/protocols.md lists every setting that cites its source line, with the code's
    default and the code's citation, in the order of the code."""
    page = TEXTS["docs/protocols.md"]
    for path, name, prefix in PROTOCOL_TABLES:
        rows = _setting_rows(path, name, prefix)
        assert len(rows) >= 6, f"{name}: the scan finds its fields"
        block = "\n".join(rows)
        assert block in page, f"{name} ({path}): docs/protocols.md's table differs from the code"


def _table(text: str) -> list[str]:
    """The lines of the first Markdown table in ``text``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


@pytest.mark.parametrize("page", ["README.md", "results/README.md"])
def test_pages_show_the_headline_tables_make_results_full_writes(page):
    """Each headline section's table is its ``results/full`` file's (``make results-full``
    copies them with :mod:`bench.report.frontpage`); the copier changes nothing more."""
    from bench.report.frontpage import SECTIONS, with_headlines

    text = (ROOT / page).read_text()
    for title, source in SECTIONS.items():
        assert _table(_section(page, title)) == _table((ROOT / source).read_text())
    tables = {title: _table((ROOT / source).read_text()) for title, source in SECTIONS.items()}
    assert with_headlines(text, tables) == text


def test_the_headline_copier_replaces_only_each_sections_first_table():
    from bench.report.frontpage import with_headlines

    page = (
        "# P\n\n## Headline: A\n\ntext\n\n| a |\n|---|\n| 1 |\n\nafter\n\n| keep |\n\n## B\n| b |\n"
    )
    new = with_headlines(page, {"Headline: A": ["| a |", "|---|", "| 2 |", "| 3 |"], "Z": ["|z|"]})
    assert new == page.replace("| 1 |", "| 2 |\n| 3 |")
    with pytest.raises(ValueError, match="has no table"):
        with_headlines("## Headline: A\ntext\n## B\n| b |\n", {"Headline: A": ["| x |"]})
    with pytest.raises(ValueError, match="no section"):
        with_headlines("# nothing\n", {"Headline: A": ["| x |"]})
    with pytest.raises(ValueError, match="has no table"):  # nor any table after it
        with_headlines("## Headline: A\ntext\n", {"Headline: A": ["| x |"]})


@pytest.mark.parametrize("headline", ["no table here\n", None])
def test_a_headline_without_a_table_or_file_is_one_line(tmp_path, monkeypatch, capsys, headline):
    from bench.report import frontpage

    for source in frontpage.SECTIONS.values():
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        if headline is not None:
            (tmp_path / source).write_text(headline)
    (tmp_path / "README.md").write_text("## Headline: the full sets\n\n| a |\n")
    monkeypatch.chdir(tmp_path)
    assert frontpage.main(("README.md",)) == 1
    err = capsys.readouterr().err
    assert err.startswith("bench: error: headline tables not updated") and err.count("\n") == 1
    assert "Traceback" not in err


def test_readme_is_a_front_page():
    """README: at most 200 lines, the two commands first, its headline tables the ones
    ``make results-full`` writes, and its own-model example the docs page's first one."""
    readme = TEXTS["README.md"]
    assert len(readme.splitlines()) <= 200
    first_block = re.search(r"```bash\n(.*?)```", readme, re.S).group(1).splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == [
        "make install smoke",
        "make test",
    ]
    own = re.findall(r"```bash\n.*?```", _section("README.md", "Benchmark your own model"), re.S)
    page = re.findall(r"```bash\n.*?```", TEXTS["docs/own-model.md"], re.S)
    assert len(own) == 1 and own[0] == page[0]


def test_every_benchmark_option_is_in_the_own_model_page():
    """Each keyword ``bench.benchmark`` takes beyond its named arguments is named in
    docs/own-model.md's Python section."""
    from bench.api import accepted_options

    section = _section("docs/own-model.md", "3. Python")
    missing = [n for n in accepted_options() if not re.search(rf"`{re.escape(n)}[`=]", section)]
    assert missing == [], "bench.benchmark options not in docs/own-model.md"
