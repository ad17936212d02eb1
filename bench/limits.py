"""Limits around model code (a model is untrusted code): a time limit (SIGALRM) and a guard
that turns the model's own way out of the process (``sys.exit``, ``os._exit``, a library's
``BaseException`` such as a Rust ``PanicException``) into an exception bench can record."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

#: how long loading a model may take by default [s] (a checkpoint download included); a
#: smaller ``--material-timeout`` bounds it too
LOAD_TIMEOUT_S = 1800.0
#: ``bench check-model``'s default time limit [s]: loading the model and its checks
CHECK_TIMEOUT_S = 300.0
#: the longest time limit an option may set [s] (about three years; ``setitimer`` overflows
#: somewhere above it, and a longer one is no limit in practice)
MAX_LIMIT_S = 1e8
#: the interpreter's own ``os._exit``, kept before any guard replaces it: a stop the user asks
#: for (a third Ctrl-C) must leave even while model code runs under :func:`exits_guarded`
REAL_EXIT = os._exit


@contextlib.contextmanager
def time_limit(seconds: float | None, error: Callable[[], BaseException]) -> Iterator[None]:
    """Raise ``error()`` in this thread after ``seconds`` (SIGALRM; the main thread of a
    process, as in bench's workers; elsewhere, e.g. Dask's threads, no limit). It fires again
    every 0.5 s: library code that catches Exception may swallow one."""
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    state = {"active": True}

    def expire(signum: int, frame: Any) -> None:
        if state["active"]:
            raise error()

    previous = signal.signal(signal.SIGALRM, expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, min(seconds, MAX_LIMIT_S), 0.5)
        yield
    finally:
        state["active"] = False  # first: a late alarm now does nothing
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class OverTime(BaseException):
    """Model code ran past its time limit (a BaseException, so a factory's own ``except
    Exception`` neither swallows nor rewords it)."""


class ModelExit(BaseException):
    """Model code called ``os._exit(code)`` in bench's process (raised instead of exiting)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code

    def __str__(self) -> str:
        return f"os._exit({self.code})"


@contextlib.contextmanager
def exits_guarded() -> Iterator[None]:
    """``os._exit`` called by this thread during the block raises :class:`ModelExit`
    instead of ending bench without a word; another thread (a worker's parent watch) or a
    forked child (another pid) still exits. Only in the main thread (as :func:`time_limit`):
    threads that patch a module function in turn could leave one of their guards behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    real, pid, thread = os._exit, os.getpid(), threading.get_ident()

    def guarded(code: int) -> None:
        if os.getpid() != pid or threading.get_ident() != thread:
            real(code)
        raise ModelExit(code)

    os._exit = guarded  # type: ignore[assignment]
    try:
        yield
    finally:
        os._exit = real


def escaped_words(err: BaseException) -> str | None:
    """How model code tried to leave, in words, for an exception that is not an Exception
    (``SystemExit``, :class:`ModelExit`, a library's ``BaseException`` such as pyo3's
    ``PanicException``); None for an Exception or a stop the user asked for (Ctrl-C,
    SIGTERM: KeyboardInterrupt; GeneratorExit)."""
    if isinstance(err, Exception | KeyboardInterrupt | GeneratorExit):
        return None
    if isinstance(err, SystemExit):
        return f"the model's code called sys.exit({err.code!r})"
    if isinstance(err, ModelExit):
        return f"the model's code called {err}"
    if isinstance(err, OverTime):
        return str(err)
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else repr(err)}"
