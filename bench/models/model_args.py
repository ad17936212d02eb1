"""Values a factory gets from the command line or a models file: plain JSON only (text,
numbers, true/false, lists, mappings), since they go into the token and the manifest; a
date or bytes that YAML makes of an unquoted value is refused, not passed on."""

from __future__ import annotations

from typing import Any

from bench.errors import ConfigurationError
from bench.terminal import a_or_an


def is_plain(value: Any) -> bool:
    """Whether ``value`` is plain JSON: text, a number, true/false, null, lists and mappings
    (text keys) of them."""
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        return all(is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain(v) for k, v in value.items())
    return False


def plain_value(value: Any, item: str) -> Any:
    """``value`` (read from ``--model-arg`` ``item``), or ConfigurationError naming it."""
    if not is_plain(value):  # !!binary, a date: not what a manifest can hold
        raise ConfigurationError(
            f"--model-arg {item!r}: {a_or_an(type(value).__name__)}, not a plain value (quote "
            "it to pass text)"
        )
    return value
