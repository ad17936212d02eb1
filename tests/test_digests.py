"""The settings digests of every default (model family, task, data set): committed records
and baselines are keyed by them, so a refactor must leave them as they are. A change here is
a change of the numbers' definition: regenerate results/ and say so."""

from __future__ import annotations

import pytest

from bench.protocols import effective_settings
from bench.settings import settings_digest

MDR, CV, ELASTIC = (
    "mdr-pbe",
    "alexandria-binary-pbe-phonon-2025.1",
    "mp-binary-pbe-elasticity-2025.1",
)
DIGESTS = {
    # float32 families (CHGNet, SevenNet)
    ("chgnet", "phonons", MDR): "69f5fb7d2bd6",
    ("chgnet", "phonons", CV): "4a40faaab34a",
    ("chgnet", "elasticity", ELASTIC): "c3f3f52e154a",
    ("chgnet", "equigrad", MDR): "6ced40e2a807",
    ("7net-0", "phonons", MDR): "69f5fb7d2bd6",
    # float64 (EMT, MACE)
    ("emt", "phonons", MDR): "391035e72f68",
    ("emt", "phonons", CV): "06ede0f021d9",
    ("emt", "elasticity", ELASTIC): "4bd08f13f341",
    ("emt", "equigrad", MDR): "6ff03564df16",
    ("mace-mpa-0", "elasticity", ELASTIC): "4bd08f13f341",
    # float32-highest (orb-v3)
    ("orb-v3-direct-20", "phonons", MDR): "476c42901b00",
    ("orb-v3-direct-20", "elasticity", ELASTIC): "3781e3ef30fc",
}


@pytest.mark.parametrize("key", list(DIGESTS))
def test_default_digests_are_unchanged(key):
    assert settings_digest(effective_settings(*key)) == DIGESTS[key]
