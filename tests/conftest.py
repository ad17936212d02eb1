"""Shared fixtures: the reference data beside the checkout, small test calculators."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from bench.datasets.locate import embedded_dir
from bench.models.external import forget_models_files
from bench.models.families import own_env_families
from bench.run.threads import limit_blas_threads

# One BLAS thread, as bench's workers run (bench.run.threads.set_threads): the tests' 3x3 cell
# algebra with multithreaded OpenBLAS on a busy 2-core machine was ~7x slower (an EMT-like
# relaxation: 42 s vs 6 s), and subprocesses inherit the setting.
limit_blas_threads()

SHARED_DATA = Path(
    os.environ.get("BENCH_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def _have_full_data() -> bool:
    return (SHARED_DATA / "mdr" / "benchmark_app").is_dir()


#: a user's own model module, as a test writes it: an EMT factory (the catalogue's emt model)
EMT_FACTORY = '''
from ase.calculators.emt import EMT


def make(asap_cutoff=False):
    """EMT, as the catalogue's emt model."""
    return EMT(asap_cutoff=asap_cutoff)
'''


@pytest.fixture
def factory_folder(tmp_path, monkeypatch, shared_data) -> tuple[Path, str]:
    """A folder holding ``EMT_FACTORY`` as a module of a unique name (modules stay imported),
    made the current folder, with ``BENCH_DATA`` set: (the folder, the module name)."""
    here = tmp_path / "lab"
    here.mkdir()
    name = f"labpot_{abs(hash(str(tmp_path))) % 10**8}"
    (here / f"{name}.py").write_text(EMT_FACTORY)
    monkeypatch.chdir(here)
    monkeypatch.setenv("BENCH_DATA", str(shared_data))
    return here, name


@pytest.fixture(autouse=True)
def _fresh_models_files():
    """Models files and projects a test registers stay with that test (the registry of
    ``--models-file`` entries lives for a process; a pytest session is one process)."""
    yield
    forget_models_files()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The reference data: ../shared/data (mdr-50, the full MatCalc files) when it is there,
    else the package's embedded copy (bench/_data: the smoke subsets and the few files the
    tests read beyond them), so a bare clone runs every test offline."""
    return SHARED_DATA if _have_full_data() else embedded_dir()


class ScaledEMT(EMT):
    """EMT whose forces are multiplied by ``factor`` (and made NaN or huge on demand)."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, factor: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor = factor

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results["forces"] = self.results["forces"] * self.factor
        self.results["stress"] = self.results["stress"] * self.factor


class BrokenCalculator(Calculator):
    """Returns NaN (``mode='nan'``) or exploding (``mode='explode'``) results."""

    implemented_properties = ("energy", "forces", "stress")

    def __init__(self, mode: str = "nan") -> None:
        super().__init__()
        self.mode = mode

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        n = len(self.atoms)
        value = np.nan if self.mode == "nan" else 1e6
        self.results = {
            "energy": 0.0 if self.mode != "nan" else np.nan,
            "forces": np.full((n, 3), value),
            # isotropic stress survives FixSymmetry (uniform forces on one atom do not)
            "stress": np.zeros(6) if self.mode == "nan" else np.array([value] * 3 + [0.0] * 3),
        }


def _summary_of_absent_envs(terminalreporter) -> None:
    """One line naming the family environments that are absent (their tests skip)."""
    skipped = terminalreporter.stats.get("skipped", [])
    envs = sorted(
        {
            name
            for report in skipped
            for name in own_env_families()
            if f"{name} environment not created" in str(report.longrepr)
        }
    )
    if envs:
        n = sum(
            any(f"{e} environment not created" in str(r.longrepr) for e in envs) for r in skipped
        )
        terminalreporter.write_line(
            f"family environments absent: {', '.join(envs)} ({n} tests skipped; "
            f"create them with bench env create NAME, or make env-NAME)"
        )


#: a test outside the slow tier that takes longer than this (s, setup + call) is named at the end
FAST_TIER_LIMIT_S = 15.0
_UNMARKED_SLOW: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Add up each test's setup and call time when it is not marked slow or regression."""
    if report.when in ("setup", "call") and not {"slow", "regression"} & set(report.keywords):
        _UNMARKED_SLOW[report.nodeid] = _UNMARKED_SLOW.get(report.nodeid, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The absent family environments, and fast-tier tests that outgrew it (mark them slow)."""
    _summary_of_absent_envs(terminalreporter)
    over = {k: v for k, v in _UNMARKED_SLOW.items() if v > FAST_TIER_LIMIT_S}
    if over:
        terminalreporter.write_line(
            f"not marked slow but over {FAST_TIER_LIMIT_S:.0f} s (mark them slow, or make them "
            "faster): " + ", ".join(f"{k} {v:.0f} s" for k, v in sorted(over.items()))
        )
