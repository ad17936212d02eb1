"""Copy the headline tables ``make results-full`` writes into the pages that show them
(README.md, results/README.md), so no page shows a table the records no longer give.

Each page section ``## Headline: …`` named in :data:`SECTIONS` has its first Markdown table
replaced by the table of its source file; the rest of the page is left as it is.
``python -m bench.report.frontpage [PAGE ...]`` (default: both pages) does it.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: page section title -> the headline file (relative to the checkout) whose table it shows
SECTIONS = {
    "Headline: the full sets": "results/full/headline.md",
    "Headline: MDR, the 50 materials here": "results/full/mdr-50/headline.md",
}
PAGES = ("README.md", "results/README.md")


def table_span(lines: list[str], start: int = 0) -> tuple[int, int]:
    """(first, end) line indices of the first Markdown table at or after ``start``
    (``(len(lines), len(lines))`` when there is none)."""
    first = next((i for i in range(start, len(lines)) if lines[i].startswith("|")), len(lines))
    end = next((i for i in range(first, len(lines)) if not lines[i].startswith("|")), len(lines))
    return first, end


def with_headlines(text: str, tables: dict[str, list[str]]) -> str:
    """``text`` with the first table of each ``## title`` section of ``tables`` replaced by
    its lines; a section the page lacks is left out (ValueError if none is there)."""
    lines = text.splitlines()
    found = 0
    for title, table in tables.items():
        heading = next((i for i, line in enumerate(lines) if line == f"## {title}"), None)
        if heading is None:
            continue
        following = next(
            (i for i in range(heading + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        first, end = table_span(lines, heading)
        if first >= following:
            raise ValueError(f"section {title!r} has no table")
        lines[first:end] = table
        found += 1
    if not found:
        raise ValueError(f"no section of {sorted(tables)}")
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def update_pages(root: Path, pages: tuple[str, ...] = PAGES) -> list[str]:
    """Rewrite ``pages`` under ``root`` with the current headline tables; the pages changed."""
    tables = {}
    for title, source in SECTIONS.items():
        lines = (root / source).read_text().splitlines()
        first, end = table_span(lines)
        if first == end:
            raise ValueError(f"{source}: no table (make results-full writes it)")
        tables[title] = lines[first:end]
    changed = []
    for page in pages:
        path = root / page
        text = path.read_text()
        new = with_headlines(text, tables)
        if new != text:
            path.write_text(new)
            changed.append(page)
    return changed


def main(pages: tuple[str, ...]) -> int:
    """Update ``pages`` (default both) in the current folder; a missing or malformed page or
    headline is one line and exit 1."""
    from bench.terminal import echo, shown

    try:
        changed = update_pages(Path.cwd(), pages or PAGES)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        echo(f"bench: error: headline tables not updated: {shown(str(err))}", file=sys.stderr)
        return 1
    for page in changed:
        echo(f"headline tables updated in {shown(page)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(tuple(sys.argv[1:])))
