"""The progress bar of a run: materials done, failures, and what is in flight."""

from __future__ import annotations

import shutil
import time
from typing import Any

from tqdm.auto import tqdm

from bench.run.ticker import Ticker
from bench.terminal import shown

#: a bar of fixed width, so the counts and the time stay readable at 80 columns; what is
#: running is cut to the terminal's width instead
BAR_FORMAT = "{desc} {n_fmt}/{total_fmt} |{bar:10}| {elapsed}<{remaining}{postfix}"
#: characters of BAR_FORMAT around the counts and times: spaces, "/", the 10-character bar
#: and its edges, "<", the postfix's ", "
BAR_AROUND = 1 + 1 + 2 + 10 + 2 + 2


class Progress:
    """The progress bar: materials done, failures, and what is in flight — the first
    ``workers`` unfinished materials of the claimed window (executors run them in order) —
    with the time since the last record, refreshed every 2 s so a long material shows."""

    def __init__(self, total: int, desc: str, enabled: bool, workers: int) -> None:
        self.bar = tqdm(
            total=total, desc=shown(desc), unit="mat", disable=not enabled, bar_format=BAR_FORMAT
        )
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
        if self.bar.disable:  # --quiet: no bar, nothing to measure
            return
        running = self.pending[: self.workers]
        quiet = int(time.monotonic() - self.last)
        text = f"{self.failed} failed"
        if running:
            more = f" +{len(running) - 1}" if len(running) > 1 else ""
            text += f"; now {shown(running[0])}{more}"
            if quiet >= 10:  # a long material: how long since the last record
                text += f" ({quiet // 60}m{quiet % 60:02d}s)"
        room = shutil.get_terminal_size().columns - self._fixed_width()
        if len(text) > max(room, 12):  # the line fits the terminal: the tail gives way
            text = text[: max(room, 12) - 1] + "…"
        self.bar.set_postfix_str(text, refresh=False)

    def _fixed_width(self) -> int:
        """Characters of the line besides the postfix: description, counts, bar, times."""
        total = len(str(self.bar.total or 0))
        elapsed = len(self.bar.format_interval(self.bar.format_dict["elapsed"]))
        return len(self.bar.desc) + 2 * total + BAR_AROUND + 2 * max(elapsed, 5) + 1

    def _tick(self) -> None:
        self._postfix()
        self.bar.refresh()

    def __enter__(self) -> Progress:
        self._ticker.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ticker.__exit__(*exc)
        self.bar.close()
