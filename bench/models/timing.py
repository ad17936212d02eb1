"""Time spent inside the model (a clock around a loaded model's evaluations) and memory."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.errors import MaterialError, ModelError
from bench.models.loaded import LoadedModel


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB; Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class ModelClock:
    """Seconds and number of calls spent inside the model since the clock was attached."""

    seconds: float = 0.0
    calls: int = 0

    def timed(self, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            except MaterialError:
                raise
            except MemoryError:  # the batching fallback redoes the batch one by one
                raise
            except Exception as err:  # the model raised on this structure: its failure
                raise ModelError(f"the model raised {type(err).__name__}: {err}") from err
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return wrapper


@contextmanager
def model_clock(model: LoadedModel) -> Iterator[ModelClock]:
    """Time every model evaluation of ``model`` (ASE ``calculate`` and ``batch_forces``);
    clocks nest (an inner one wraps the outer one's wrapper and puts it back)."""
    clock = ModelClock()
    calc = model.calculator
    previous = vars(calc).get("calculate")  # an outer clock's wrapper, or None
    original_batch = model.batch_forces
    calc.calculate = clock.timed(calc.calculate)
    if original_batch is not None:
        model.batch_forces = clock.timed(original_batch)
    try:
        yield clock
    finally:
        if previous is None:
            del calc.calculate  # back to the class method
        else:
            calc.calculate = previous
        model.batch_forces = original_batch
