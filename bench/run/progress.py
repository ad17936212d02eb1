"""The progress bar of a run: materials done, failures, and what is in flight."""

from __future__ import annotations

import time
from typing import Any

from tqdm.auto import tqdm

from bench.run.ticker import Ticker


class Progress:
    """The progress bar: materials done, failures, and what is in flight — the first
    ``workers`` unfinished materials of the claimed window (executors run them in order) —
    with the time since the last record, refreshed every 2 s so a long material shows."""

    def __init__(self, total: int, desc: str, enabled: bool, workers: int) -> None:
        self.bar = tqdm(total=total, desc=desc, unit="mat", disable=not enabled, dynamic_ncols=True)
        self.workers, self.failed = max(1, workers), 0
        self.pending: list[str] = []
        self.last = time.monotonic()
        self._ticker = Ticker(self._tick, 2.0, "bench-progress", enabled)

    def queue(self, ids: list[str]) -> None:
        """The materials now claimed, in the order they run."""
        self.pending = list(ids)

    def skipped(self, n: int) -> None:
        """``n`` materials another run does."""
        if n:
            self.bar.update(n)

    def done(self, record: dict[str, Any]) -> None:
        """One material's record arrived."""
        if record["material_id"] in self.pending:
            self.pending.remove(record["material_id"])
        self.failed += record["status"] != "ok"
        self.last = time.monotonic()
        self._postfix()
        self.bar.update()

    def _postfix(self) -> None:
        running = self.pending[: self.workers]
        quiet = int(time.monotonic() - self.last)
        text = {"failed": self.failed}
        if running:
            text["running"] = ",".join(running) + (f" ({quiet // 60}m{quiet % 60:02d}s)")
        self.bar.set_postfix(text, refresh=False)

    def _tick(self) -> None:
        self._postfix()
        self.bar.refresh()

    def __enter__(self) -> Progress:
        self._ticker.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ticker.__exit__(*exc)
        self.bar.close()
