"""The catalogue is the only place that knows a family: its family tables feed the manifest's
versions and the own environments, and agree with pyproject's extras and the Makefile."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from bench.models import list_models
from bench.models.families import FAMILIES, own_env_families
from bench.run.manifest import PACKAGES

ROOT = Path(__file__).resolve().parents[1]
#: extras that are not model families (an executor, an engine, the tools)
NOT_FAMILIES = {"dask", "torch-sim", "dev", "docs"}


def _extras() -> dict[str, set[str]]:
    """pyproject's optional dependencies: extra -> distribution names (versions stripped)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name = re.compile(r"^[A-Za-z0-9_.-]+")
    return {
        extra: {name.match(req).group(0).lower() for req in reqs}
        for extra, reqs in project["optional-dependencies"].items()
    }


def test_every_model_has_a_family_table_and_every_table_a_model():
    assert {spec.family for spec in list_models()} == set(FAMILIES)


def test_family_packages_are_installed_by_their_extra_and_recorded():
    extras = _extras()
    for family in FAMILIES.values():
        assert set(family.packages) <= set(PACKAGES), f"{family.name}: not in the manifest"
        if family.name in extras:  # emt has none: ase is a core dependency
            assert set(family.packages) <= extras[family.name], family.name
    for extra, names in extras.items():
        if extra in NOT_FAMILIES:
            continue
        assert extra in FAMILIES, f"pyproject extra {extra!r} names no catalogue family"
        assert names <= set(PACKAGES), f"{extra}: {names - set(PACKAGES)} missing in manifests"


def test_own_environments_are_the_catalogues():
    envs = {spec.env for spec in list_models()} - {"main"}
    assert envs == set(own_env_families())
    for name in own_env_families():
        assert all(spec.family == name for spec in list_models() if spec.env == name)


def test_makefile_installs_every_main_environment_family():
    extras = re.search(r"^EXTRAS \?= (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    main = {f for f in FAMILIES if f in _extras() and f not in own_env_families()}
    assert set(extras.split(",")) == main | NOT_FAMILIES
