"""The layout's rules, checked on the source: no import cycle between bench's modules (the
function-local imports included), no import of another module's private names, modules of
about 300 lines at most and functions of about 60, each exception named with its reason."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "bench"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
#: module -> why it is longer (kept short: each entry is a debt with its reason)
LONG_MODULES: dict[str, str] = {}
#: "module:function" -> why it is longer
LONG_FUNCTIONS: dict[str, str] = {}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, str]]:
    """(module imported, name taken from it) for every ``bench`` import in ``path``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.append((full, "") if full in MODULES else (base, alias.name))
        elif isinstance(node, ast.Import):
            out += [(alias.name, "") for alias in node.names]
    return [(module, what) for module, what in out if module in MODULES and module != name]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    edges = {name: {m for m, _ in _imports(name, path)} for name, path in MODULES.items()}
    assert _cycles(edges) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_private_imports_across_modules():
    private = [
        f"{name} imports {what} from {module}"
        for name, path in MODULES.items()
        for module, what in _imports(name, path)
        if what.startswith("_") and not what.startswith("__")
    ]
    assert private == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_and_functions_stay_small(name):
    source = MODULES[name].read_text()
    lines = len(source.splitlines())
    assert lines <= MAX_MODULE_LINES or name in LONG_MODULES, f"{name}: {lines} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            key = f"{name}:{node.name}"
            assert length <= MAX_FUNCTION_LINES or key in LONG_FUNCTIONS, f"{key}: {length}"


def test_exceptions_are_still_needed():
    """An entry of LONG_MODULES / LONG_FUNCTIONS that no longer applies is removed."""
    for name in LONG_MODULES:
        assert len(MODULES[name].read_text().splitlines()) > MAX_MODULE_LINES, name
    for key in LONG_FUNCTIONS:
        name, function = key.split(":")
        tree = ast.parse(MODULES[name].read_text())
        lengths = [
            n.end_lineno - n.lineno + 1
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef) and n.name == function
        ]
        assert lengths and max(lengths) > MAX_FUNCTION_LINES, key
