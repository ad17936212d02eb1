"""The catalogue's family tables (``[families.<name>]`` in ``catalogue.toml``): the packages
whose versions a run's manifest records, and the own environment of a family whose pins clash
with the main one. The only place that knows a family besides its adapter module."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATALOGUE = Path(__file__).with_name("catalogue.toml")


@dataclass(frozen=True)
class PipStep:
    """One ``pip install`` step of an own environment: what it does, its arguments, and the
    environment variables it needs."""

    what: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Family:
    """A model family: ``packages`` (distributions recorded in manifests; the pyproject extra
    of the family's name installs them); ``own_env``: runs in its own environment, made by
    ``preinstall`` pip requirements, then ``bench[<name>]``, then ``postinstall`` steps;
    ``contract``: the contract test's rows (tests/contract.py reads them)."""

    name: str
    packages: tuple[str, ...]
    own_env: bool = False
    preinstall: tuple[str, ...] = ()
    postinstall: tuple[PipStep, ...] = ()
    #: the contract test's models and how to test each (the catalogue's ``contract`` rows)
    contract: tuple[dict[str, Any], ...] = ()


def _load() -> dict[str, Family]:
    with open(CATALOGUE, "rb") as handle:
        raw = tomllib.load(handle).get("families", {})
    families = {}
    for name, entry in raw.items():
        env = entry.get("env")
        steps = tuple(
            PipStep(s["what"], tuple(s["args"]), tuple(sorted(s.get("env", {}).items())))
            for s in (env or {}).get("postinstall", [])
        )
        families[name] = Family(
            name=name,
            packages=tuple(entry["packages"]),
            own_env=env is not None,
            preinstall=tuple((env or {}).get("preinstall", [])),
            postinstall=steps,
            contract=tuple(dict(row) for row in entry.get("contract", [])),
        )
    return families


#: family name -> Family, in catalogue order
FAMILIES: dict[str, Family] = _load()


def own_env_families() -> list[str]:
    """The families that run in an environment of their own (mace, fairchem)."""
    return [f.name for f in FAMILIES.values() if f.own_env]


def family_packages() -> tuple[str, ...]:
    """Every family's packages, once each, in catalogue order."""
    return tuple(dict.fromkeys(p for f in FAMILIES.values() for p in f.packages))
