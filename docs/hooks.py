"""mkdocs hook: the docstrings' Sphinx roles (``:func:`name```) render as the plain code span
(``name``) in the API reference, instead of a literal ``:func:`` before it."""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:func|data|class|meth|attr|mod|exc|obj):(?=<code>)")


def on_page_content(html: str, **kwargs: Any) -> str:
    """The page's HTML without the role prefixes."""
    return ROLE.sub("", html)
