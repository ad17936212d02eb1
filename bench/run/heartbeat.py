"""The heartbeat of a run's claims: renewed on a connection of its own while it evaluates."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from bench.errors import RecordsError
from bench.run.store import Store
from bench.run.ticker import Ticker


class Heartbeat(Ticker):
    """Renews ``owner``'s claims every ``every_s`` seconds (on a connection of its own), while
    a run evaluates materials (which can take longer than the stale time)."""

    def __init__(self, out_dir: Path | None, owner: str, every_s: float = 30.0) -> None:
        super().__init__(self._beat, every_s, "bench-heartbeat", enabled=out_dir is not None)
        self.out_dir, self.owner = out_dir, owner

    def _beat(self) -> None:
        with (
            contextlib.suppress(sqlite3.OperationalError, RecordsError),
            Store(self.out_dir) as store,
        ):
            store.heartbeat(self.owner)  # busy: the next beat renews
