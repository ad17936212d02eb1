"""Every model family against the one adapter contract (tests/contract.py).

Adding a family: its adapter module and its catalogue entries; the ``contract`` rows of its
``[families.<family>]`` table in ``catalogue.toml`` say which models this test runs and how.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest
from contract import FAMILIES, Family, build_checkpoint, check_contract

from bench.models import list_models, resolve
from bench.models.envs import env_python, env_ready


def _python(family: Family) -> str:
    """The interpreter the family runs in; skip when its package or environment is absent."""
    spec = resolve(family.key)
    if family.env == "main":
        if importlib.util.find_spec(spec.package) is None:
            pytest.skip(f"{spec.package} not installed (make install)")
        return sys.executable
    if not env_ready(spec.env, spec.import_probe):
        pytest.skip(f"{spec.env} environment not created (bench env create {spec.env})")
    return str(env_python(spec.env))


#: real or random-weight networks are slow; EMT keeps the contract in the fast tier
PARAMS = [
    pytest.param(f, id=f.key, marks=() if f.key == "emt" else pytest.mark.slow) for f in FAMILIES
]


@pytest.mark.parametrize("family", PARAMS)
def test_family_meets_the_adapter_contract(family, tmp_path):
    python = _python(family)
    checkpoint = build_checkpoint(python, family, tmp_path)
    for dtype in family.dtypes:
        out = check_contract(python, family, checkpoint, dtype)
        if dtype is None:  # the default for phonons and elasticity: the catalogue's
            spec = resolve(family.key)
            assert out["dtype"] == (spec.second_order_dtype or spec.dtypes[-1])


def test_every_family_is_in_the_contract_list():
    tested = {resolve(f.key).family for f in FAMILIES}
    missing = {spec.family for spec in list_models()} - tested
    names = ", ".join(sorted(missing))
    assert not missing, f"add contract rows to the catalogue's family tables for: {names}"
