"""What bench prints goes through here: text from records, stores, models files, a model's
exceptions and output, data files and the command line is untrusted, and a control character
in it (an OSC sequence that sets the window title, a CSI that clears the screen, a bell, a
right-to-left override) is shown escaped (``\\x1b``), never sent to the terminal.

:func:`shown` escapes one untrusted string for a place inside a line (newlines too);
:func:`echo` is ``print`` with every control character but the newlines and tabs bench
itself lays out escaped. No other module of bench calls ``print`` or writes to
``sys.stdout``/``sys.stderr`` (tests/test_trust_print.py holds them to it).
"""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO

#: C0 controls (bar newline and tab), DEL, C1 controls (U+009B is a CSI of its own on some
#: terminals), line and paragraph separators, and the bidirectional overrides and isolates
#: that reorder what a line shows
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"
_IN_TEXT = re.compile(f"[{_CONTROLS}]")
_IN_LINE = re.compile(f"[{_CONTROLS}\t\n]")


_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def shown(text: Any) -> str:
    """``str(text)`` with every control character escaped, newlines and tabs included:
    an untrusted string placed inside one of bench's lines (``"\\x1b]0;x\\x07"`` shows as
    ``\\x1b]0;x\\x07``)."""
    return _IN_LINE.sub(_escape, str(text))


def plain(text: Any) -> str:
    """``str(text)`` with every control character escaped except newlines and tabs: a text
    of bench's own layout that may carry untrusted parts."""
    return _IN_TEXT.sub(_escape, str(text))


def echo(
    *objects: Any,
    sep: str = " ",
    end: str = "\n",
    file: TextIO | None = None,
    flush: bool = False,
) -> None:
    """``print`` for bench's output: control characters in the text escaped (:func:`plain`),
    newlines and tabs kept."""
    stream = sys.stdout if file is None else file
    stream.write(plain(sep.join(map(str, objects))) + plain(end))
    if flush:
        stream.flush()


def a_or_an(word: Any) -> str:
    """``word`` with its indefinite article, by its first letter: ``an elasticity``,
    ``a phonons``, ``an int``, ``a dict`` (for the names bench puts in messages)."""
    text = str(word)
    return f"{'an' if text[:1].lower() in tuple('aeiou') else 'a'} {text}"
