"""Jinja2 templates of the static site, with autoescape: every string a page shows (model
labels, material ids, failure reasons, settings) is escaped by the template itself. A
template's output is :class:`markupsafe.Markup` and may be placed in another template as is;
so is plotly's figure HTML (its JSON escapes ``<``). Nothing else is marked safe.
"""

from __future__ import annotations

from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape
from markupsafe import Markup

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="{{ up }}assets/site.css">
{%- if plotly %}<script src="{{ up }}assets/plotly.min.js"></script>{% endif %}</head>
<body><nav><a href="{{ up }}index.html">Table 2</a><a href="{{ up }}failures.html">failures</a>
<a href="{{ up }}provenance.html">provenance</a></nav><h1>{{ title }}</h1>
{{ body }}
<script src="{{ up }}assets/sort.js"></script></body></html>
"""

CELL = """<td
{%- if c.sort is not none %} data-sort="{{ c.sort }}"{% endif %}
{%- if c.cls %} class="{{ c.cls }}"{% endif %}
{%- if c.title %} title="{{ c.title }}"{% endif %}>
{%- if c.href %}<a href="{{ c.href }}">{% endif %}
{%- if c.code %}<code>{{ c.text }}</code>{% else %}{{ c.text }}{% endif %}
{%- if c.href %}</a>{% endif %}
{%- if c.sub %}<span class="sub">{{ c.sub }}</span>{% endif %}
{%- if c.html %}{{ c.html }}{% endif %}</td>"""

TABLE = """<table{% if table_id %} id="{{ table_id }}"{% endif %}
{%- if classes %} class="{{ classes }}"{% endif %}>
{%- if headers %}<thead><tr>{% for h in headers %}<th
{%- if h.title %} title="{{ h.title }}"{% endif %}>{{ h.text }}</th>{% endfor %}</tr></thead>
{%- endif %}<tbody>{% for row in rows %}<tr>{% for c in row %}{% include "cell" %}{% endfor %}
</tr>{% endfor %}</tbody></table>"""

#: a paragraph of text runs: plain strings (escaped) and (text, kind) pairs, kind "code" or
#: "b" or a link target
PARAGRAPH = """<p{% if cls %} class="{{ cls }}"{% endif %}>{% for part in parts -%}
{%- if part is string %}{{ part }}{% elif part[1] == "code" %}<code>{{ part[0] }}</code>
{%- elif part[1] == "b" %}<strong>{{ part[0] }}</strong>
{%- else %}<a href="{{ part[1] }}">{{ part[0] }}</a>{% endif %}{% endfor %}</p>"""

DETAILS = """<details><summary>{{ summary }}</summary>{% if pre %}<pre>{{ text }}</pre>
{%- else %}{{ text }}{% endif %}</details>"""

HEADING = """<h{{ level }}{% if id %} id="{{ id }}"{% endif %}>{{ text }}</h{{ level }}>"""

ROW = """<div class="row">{% for part in parts %}<div>{{ part }}</div>{% endfor %}</div>"""

TEMPLATES = {
    "page": PAGE,
    "cell": CELL,
    "table": TABLE,
    "paragraph": PARAGRAPH,
    "details": DETAILS,
    "heading": HEADING,
    "row": ROW,
}

ENV = Environment(
    loader=DictLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def render(name: str, **context: Any) -> Markup:
    """The template ``name`` rendered with ``context`` (strings escaped)."""
    return Markup(ENV.get_template(name).render(**context))


def join(parts: list[Markup]) -> Markup:
    """Rendered fragments one after another."""
    return Markup("").join(parts)
