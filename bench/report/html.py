"""HTML building blocks of the static site: page skeleton, tables, the bundled assets.

Plain strings and :func:`html.escape`, no templating engine. Every link is relative, so the
site opens from disk (``file://``) with no server and no network: plotly.js is written once to
``assets/plotly.min.js`` from the installed plotly package, beside a small stylesheet and the
table-sorting script.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from pathlib import Path

ASSETS = "assets"
PLOTLY_JS = f"{ASSETS}/plotly.min.js"

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5rem 2rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th.asc::after { content: " ▲"; } table.sortable th.desc::after { content: " ▼"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.paper { color: #777; font-size: 0.75rem; display: block; }
.note { color: #666; font-size: 0.8rem; max-width: 28rem; }
.fail { color: #a00; }
.row { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
details summary { cursor: pointer; }
pre { background: #f7f7f7; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
"""

#: click a header to sort by its cells' data-sort (numbers) or text; again to reverse
SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.from(body.rows);
      var asc = !th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      function key(row) {
        var cell = row.cells[col], v = cell.getAttribute('data-sort');
        if (v === null) { return cell.textContent.trim().toLowerCase(); }
        var n = parseFloat(v); return isNaN(n) ? Infinity : n;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b); var c = x < y ? -1 : x > y ? 1 : 0; return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def esc(value: object) -> str:
    """Text for HTML ('–' for None/NaN)."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return html.escape(str(value))


def write_assets(out: Path) -> list[Path]:
    """plotly.js (from the installed package), the stylesheet and the sort script."""
    from plotly.offline import get_plotlyjs

    folder = out / ASSETS
    folder.mkdir(parents=True, exist_ok=True)
    files = {"plotly.min.js": get_plotlyjs(), "site.css": CSS, "sort.js": SORT_JS}
    paths = []
    for name, text in files.items():
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        paths.append(path)
    return paths


def page(title: str, body: str, depth: int = 0, plotly: bool = False) -> str:
    """A whole page; ``depth`` = folders below the site root (for relative links)."""
    up = "../" * depth
    head = f'<link rel="stylesheet" href="{up}{ASSETS}/site.css">'
    if plotly:
        head += f'<script src="{up}{PLOTLY_JS}"></script>'
    nav = (
        f'<nav><a href="{up}index.html">Table 2</a><a href="{up}failures.html">failures</a>'
        f'<a href="{up}provenance.html">provenance</a></nav>'
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}'
        f"</title>{head}</head><body>{nav}<h1>{esc(title)}</h1>\n{body}\n"
        f'<script src="{up}{ASSETS}/sort.js"></script></body></html>\n'
    )


def cell(text: str, sort: float | str | None = None, cls: str = "") -> str:
    """One ``<td>`` (``text`` is HTML already) with an optional sort key and class."""
    attrs = ""
    if sort is not None:
        attrs += f' data-sort="{esc(sort)}"'
    if cls:
        attrs += f' class="{cls}"'
    return f"<td{attrs}>{text}</td>"


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], table_id: str = "", sortable: bool = True
) -> str:
    """A table; ``rows`` are sequences of ``<td>`` strings (:func:`cell`), headers plain text."""
    attrs = f' id="{table_id}"' if table_id else ""
    attrs += ' class="sortable"' if sortable else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    head = f"<thead><tr>{head}</tr></thead>" if any(headers) else ""
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table{attrs}>{head}<tbody>{body}</tbody></table>"


def number(value: float | None, digits: int = 3) -> str:
    """A finite number to ``digits`` significant digits, else '–'."""
    if value is None or not isinstance(value, int | float) or value != value:
        return "–"
    return f"{value:.{digits}g}"
