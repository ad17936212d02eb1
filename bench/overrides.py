"""``--set key=value`` overrides of a frozen settings dataclass (``relax.fmax_eV_per_A=0.01``).

An override builds a new settings object, so its digest differs and its records never mix with
the defaults' records.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any


def parse_value(text: str) -> Any:
    """JSON value (number, bool, list -> tuple) or, failing that, the plain string."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return tuple(value) if isinstance(value, list) else value


def apply_overrides(settings: Any, overrides: Iterable[str]) -> Any:
    """``settings`` with each ``dotted.field=value`` replaced; ValueError on an unknown field."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} is not key=value")
        settings = _replace(settings, key.strip().split("."), parse_value(text.strip()), key)
    return settings


def _replace(obj: Any, path: list[str], value: Any, key: str) -> Any:
    names = {f.name for f in dataclasses.fields(obj)}
    if path[0] not in names:
        raise ValueError(
            f"unknown setting {key!r} for {type(obj).__name__}; fields: {', '.join(sorted(names))}"
        )
    current = getattr(obj, path[0])
    if len(path) > 1:
        if not dataclasses.is_dataclass(current):
            raise ValueError(f"setting {key!r}: {path[0]} has no fields")
        value = _replace(current, path[1:], value, key)
    elif current is None:  # an optional setting (e.g. dtype): any plain value
        if not isinstance(value, str | int | float | bool):
            raise ValueError(f"setting {key!r} expects a plain value, got {value!r}")
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
    elif isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif isinstance(current, tuple) and isinstance(value, tuple):
        if current and all(isinstance(v, float) for v in current):
            value = tuple(float(v) for v in value)
    elif dataclasses.is_dataclass(current) or type(value) is not type(current):
        raise ValueError(f"--set {key}: {_expected(current)}, got {value!r}")
    try:
        return dataclasses.replace(obj, **{path[0]: value})
    except ValueError as err:  # the settings' own bounds, with their reason
        raise ValueError(f"--set {key}={_text(value)}: {err}") from None


def _text(value: Any) -> str:
    """``value`` as it is written after ``--set key=``."""
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def _expected(current: Any) -> str:
    """What a setting whose value is now ``current`` takes, in words, with an example."""
    if dataclasses.is_dataclass(current):
        fields = ", ".join(f.name for f in dataclasses.fields(current))
        return f"a group of settings: set one of its fields ({fields}) as KEY.FIELD=VALUE"
    if isinstance(current, tuple):
        return (
            f"a JSON list of numbers such as {_text(current)} (finite: NaN and .nan are not "
            "numbers)"
        )
    if isinstance(current, bool):
        return "true or false"
    if isinstance(current, int | float):
        return f"a finite number such as {current!r}"
    return f"a name such as {current!r}"
