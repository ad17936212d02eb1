"""A daemon thread that calls a function every few seconds until its ``with`` block ends."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Ticker:
    """``with Ticker(fn, every_s):`` calls ``fn()`` every ``every_s`` seconds in a daemon
    thread (not at all when ``enabled`` is False); leaving the block stops it."""

    def __init__(self, fn: Callable[[], None], every_s: float, name: str, enabled: bool = True):
        self.fn, self.every_s, self.enabled = fn, every_s, enabled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.fn()

    def __enter__(self) -> Ticker:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
