"""A time limit per material: a material over it is a ``timeout`` record, the run goes on."""

from __future__ import annotations

import time

import pytest

from bench.errors import MaterialTimeout
from bench.run.runner import RunConfig, run
from bench.run.store import Store
from bench.tasks import time_limit


def test_time_limit_interrupts_python_work():
    t0 = time.perf_counter()
    with pytest.raises(MaterialTimeout, match=r"0\.2 s"), time_limit(0.2):
        while True:
            sum(range(1000))
    assert time.perf_counter() - t0 < 2.0
    with time_limit(None):  # no limit
        pass


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_a_material_over_the_limit_is_a_timeout_record(shared_data, tmp_path, workers, monkeypatch):
    """EMT elasticity of AlPt and CuPd, each made 3 s slower (fault injection inside the time
    limit); with a 0.3 s limit both are timeouts, the run ends normally, and a later run with
    no limit replaces them (a timeout is a failure, so --retry-failures reruns it)."""
    monkeypatch.setenv("BENCH_TEST_SLOW_S", "3")
    config = dict(
        model="emt",
        task="elasticity",
        subset="elastic-smoke",
        materials=("mp-10903", "mp-1018029"),
        workers=workers,
        out_dir=str(tmp_path),
        progress=False,
        data_dir=str(shared_data),
    )
    summary = run(RunConfig(**config, material_timeout_s=0.3))
    assert summary.counts == {"timeout": 2}
    with Store(tmp_path) as store:
        records = store.records()
    assert set(records["error_type"]) == {"MaterialTimeout"}
    monkeypatch.delenv("BENCH_TEST_SLOW_S")
    again = run(RunConfig(**config, material_timeout_s=None, retry_failures=True))
    assert again.counts == {"ok": 2}
