"""What an unknown model name may have meant: a factory in a file of the current folder
(``mypot`` -> ``mypot:make``), else the close names among the catalogue's keys and aliases,
the registered models files' entries (and the project's) and the plug-ins."""

from __future__ import annotations

import ast
import difflib
from pathlib import Path

from bench.bounded import MODELS_FILE, read_text
from bench.models.external import models_file_entries, plugin_entries

#: at most this many names suggested
MAX_SUGGESTIONS = 5


def suggestions(name: str, aliases: dict[str, str]) -> list[str]:
    """What ``name`` may have meant: ``module:factory`` when ``name`` (no ``:``) is a Python
    file of the current folder (:func:`factories_in`), else the close matches among
    ``aliases`` (lower-case alias -> catalogue key) and the models-file and plug-in names."""
    factories = factories_in(name)
    if factories:
        return factories
    names = dict(aliases)
    for own in [*models_file_entries(), *plugin_entries()]:
        names[own.lower()] = own
    close = difflib.get_close_matches(name.strip().lower(), list(names), MAX_SUGGESTIONS, 0.5)
    return list(dict.fromkeys(names[c] for c in close))


def factories_in(name: str) -> list[str]:
    """``mypot:make``, ``mypot:Calc``...: the public top-level functions, then classes, of
    ``<name>.py`` in the current folder (``name`` without ``:``, with or without ``.py``;
    ``mypot:<factory>`` when it defines none or cannot be parsed); [] when there is no such
    file. The file is parsed, never imported."""
    module = name.strip().removesuffix(".py")
    if ":" in name or not module or not all(p.isidentifier() for p in module.split(".")):
        return []
    path = Path.cwd().joinpath(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        return []
    try:
        tree = ast.parse(read_text(path, MODELS_FILE, ValueError, str(path)))
    except (ValueError, SyntaxError, OSError, RecursionError):
        return [f"{module}:<factory>"]
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    public = [n for n in [*functions, *classes] if not n.startswith("_")]
    return [f"{module}:{n}" for n in public[:MAX_SUGGESTIONS]] or [f"{module}:<factory>"]
