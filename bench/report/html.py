"""HTML building blocks of the static site: page skeleton, tables, the bundled assets.

Jinja2 templates with autoescape (:mod:`bench.report.templates`): a page never pastes a
string into markup itself. Every link is relative, so the
site opens from disk (``file://``) with no server and no network: plotly.js is written once to
``assets/plotly.min.js`` from the installed plotly package, beside a small stylesheet and the
table-sorting script.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from bench.report.templates import render
from bench.run.atomic import write_text

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
.sub { color: #777; font-size: 0.75rem; display: block; }
.note { color: #666; font-size: 0.85rem; max-width: 60rem; }
.warn { background: #fff6d6; border-left: 4px solid #e0b000; padding: 0.4rem 0.6rem; }
td[title] { cursor: help; }
td.note { white-space: nowrap; font-size: 0.75rem; }
table.wide { width: 100%; table-layout: auto; }
.fail { color: #a00; }
td.better { color: #060; font-weight: 600; } td.worse { color: #a00; }
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


@dataclass(frozen=True)
class Cell:
    """One table cell: ``text`` (escaped by the template), an optional sort key, class,
    tooltip, link, small second line and an already rendered fragment (:mod:`templates`)."""

    text: object = ""
    sort: float | str | None = None
    cls: str = ""
    title: str = ""
    href: str = ""
    sub: str = ""
    code: bool = False
    html: Markup | None = None


@dataclass(frozen=True)
class Header:
    """A column header with an optional tooltip."""

    text: str
    title: str = ""


def text(value: object) -> str:
    """A value as text ('–' for None/NaN)."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return str(value)


def write_assets(out: Path) -> list[Path]:
    """plotly.js (from the installed package), the stylesheet and the sort script."""
    from plotly.offline import get_plotlyjs

    folder = out / ASSETS
    folder.mkdir(parents=True, exist_ok=True)
    files = {"plotly.min.js": get_plotlyjs(), "site.css": CSS, "sort.js": SORT_JS}
    paths = []
    for name, content in files.items():
        path = folder / name
        if not path.exists() or path.read_text() != content:
            write_text(path, content)
        paths.append(path)
    return paths


def page(title: str, body: Markup, depth: int = 0, plotly: bool = False) -> str:
    """A whole page; ``depth`` = folders below the site root (for relative links)."""
    return str(render("page", title=title, body=body, up="../" * depth, plotly=plotly))


def cell(value: object = "", sort: float | str | None = None, cls: str = "", **kw: Any) -> Cell:
    """A :class:`Cell` (the value as text, '–' for None/NaN)."""
    return Cell(text(value), sort if sort is None else text(sort), cls, **kw)


def table(
    headers: Sequence[str | Header],
    rows: Iterable[Sequence[Cell]],
    table_id: str = "",
    sortable: bool = True,
    classes: str = "",
) -> Markup:
    """A table of :class:`Cell` rows; headers as text or :class:`Header`."""
    heads = [h if isinstance(h, Header) else Header(str(h)) for h in headers]
    names = " ".join(c for c in ("sortable" if sortable else "", classes) if c)
    return render(
        "table",
        headers=heads if any(h.text for h in heads) else [],
        rows=[list(r) for r in rows],
        table_id=table_id,
        classes=names,
    )


def paragraph(*parts: str | tuple[str, str], cls: str = "") -> Markup:
    """A ``<p>`` of text runs: strings, or (text, "code" | "b" | link target) pairs."""
    return render("paragraph", parts=parts, cls=cls)


def heading(level: int, title: str, anchor: str = "") -> Markup:
    return render("heading", level=level, text=title, id=anchor)


def details(summary: str, content: object, pre: bool = False) -> Markup:
    """A ``<details>`` toggle around text (``pre``: preformatted)."""
    return render("details", summary=summary, text=content, pre=pre)


def number(value: float | None, digits: int = 3) -> str:
    """A finite number to ``digits`` significant digits, else '–'."""
    if value is None or not isinstance(value, int | float) or value != value:
        return "–"
    return f"{value:.{digits}g}"
