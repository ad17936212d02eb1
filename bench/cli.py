"""Command line: ``bench run``, ``summary``, ``table``, ``report``, ``export``, ``records``,
``baseline``, ``speed``, ``env``, ``models``, ``datasets`` (one module per group under
:mod:`bench.commands`). Thin: parses options, calls the library, prints; every error is one
line (``--debug`` for the traceback)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from bench.errors import BenchBugError, BenchError, ConfigurationError, ModelUnavailableError
from bench.limits import REAL_EXIT, escaped_words
from bench.terminal import echo, shown

#: the command modules, each with ``add_parser(subparsers)``, in ``bench --help`` order
COMMANDS = ("run", "check", "speed", "admin", "results")


#: options that say what is measured: given twice, argparse would keep the last without a
#: word (records of one model under the other's name); others keep "the last wins"
ONCE = ("model", "models_file", "checkpoint", "protocol", "dtype")


class _Once(argparse.Action):
    """``store`` that refuses an option of :data:`ONCE` given twice (``--model a --model b``)
    with a usage error naming both values."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        given = namespace.__dict__.setdefault("_given_once", {})
        if self.dest in given and self.dest in ONCE:
            parser.error(
                f"{option} given twice ({given[self.dest]!r} and {values!r}): give it once"
            )
        given[self.dest] = values
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """argparse with its messages (usage errors quote what was typed) through :func:`echo`,
    and the options of :data:`ONCE` refused when given twice (:class:`_Once`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", None, _Once)
        self.register("action", "store", _Once)

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            try:
                echo(message, end="", file=file or sys.stderr)
            except BrokenPipeError:  # `bench run --help | head`: the reader left
                _reader_left(file or sys.stderr)
            except (AttributeError, OSError):  # no stream (pythonw), as argparse
                pass


def _reader_left(stream: Any) -> None:
    """Point ``stream``'s descriptor at /dev/null: its reader left, and the interpreter's
    flush at exit would otherwise complain of the broken pipe."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())


#: ``--debug``'s help, before a command and after it
DEBUG_HELP = "show the traceback of an error (or BENCH_DEBUG=1)"


def build_parser() -> argparse.ArgumentParser:
    """``bench``'s parser: every command module adds its subcommands."""
    import importlib

    parser = _Parser(
        prog="bench", description="Property benchmarks of machine-learning interatomic potentials."
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"bench.commands.{name}").add_parser(sub)
    _debug_everywhere(parser)
    return parser


def _debug_everywhere(parser: argparse.ArgumentParser) -> None:
    """``--debug`` also after any command (``bench run … --debug``, where the hint to use it
    is read), not only before it; given there, it overrides nothing it was not given."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                if "--debug" not in child._option_string_actions:
                    child.add_argument(
                        "--debug",
                        action="store_true",
                        default=argparse.SUPPRESS,
                        help=DEBUG_HELP,
                    )
                _debug_everywhere(child)


def _quiet_third_party_warnings() -> None:
    """Model packages warn on every call (CHGNet, SevenNet, pymatgen); keep the terminal for
    the progress bar. Set PYTHONWARNINGS (e.g. =default) to see them; spawned workers inherit."""
    if not os.environ.get("PYTHONWARNINGS"):
        os.environ["PYTHONWARNINGS"] = "ignore"
        warnings.simplefilter("ignore")


def _stop_on_sigterm() -> None:
    """SIGTERM (a cluster scheduler's stop, ``kill``), SIGHUP and SIGINT stop like Ctrl-C: finished
    materials stay stored, claims are released and ``--records`` parts are written on the way
    out. SIGINT too because a shell starts background jobs (``bench run … &``, ``nohup``) with
    it ignored, and Python then never raises KeyboardInterrupt: ``kill -INT`` did nothing."""
    import signal
    import threading

    stops = []

    def stop(signum: int, frame: object) -> None:
        stops.append(signum)
        if len(stops) == 1:
            raise KeyboardInterrupt
        if len(stops) >= 3:  # a third: leave now (every finished material is stored), even
            REAL_EXIT(130)  # from model code under bench.limits.exits_guarded
        # a second while stopping: the stop goes on quietly (claims released, records pushed)

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # SIGHUP: a closed
            signal.signal(signum, stop)  # terminal or ssh session stops like Ctrl-C


def main(argv: Sequence[str] | None = None) -> int:
    """``bench``: parse, run the command, turn errors into one line and an exit code."""
    args = build_parser().parse_args(argv)
    args.__dict__.pop("_given_once", None)
    runner = sys.modules.get("bench.run.runner")
    if runner is not None:  # what an earlier command in this process stored is not this one's
        runner.STORED.clear()
        runner.STARTED.clear()
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded beside measurements
    _quiet_third_party_warnings()
    _stop_on_sigterm()
    if args.debug or os.environ.get("BENCH_DEBUG") == "1":
        return _dispatch(args)
    try:
        return _main(args)
    except Exception as err:  # a bug or an environment problem: one line, exit 1
        _error(f"{type(err).__name__}: {err} (run with --debug for the traceback)")
        return 1
    except BaseException as err:  # model code's sys.exit, os._exit, a library's panic
        words = escaped_words(err)
        if words is None:  # Ctrl-C outside a command's own handling
            raise
        _error(f"{words} (run with --debug for the traceback)")
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    """Check the options every command shares, then run the command."""
    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None and not os.path.isdir(data_dir):  # else silently not used
        raise ConfigurationError(f"--data-dir {data_dir!r} is not a folder")
    from_env = os.environ.get("BENCH_DATA")
    # a file or a FIFO would be silently not used (an absent folder is named when data is missing)
    exists = from_env and os.path.lexists(from_env)
    if hasattr(args, "data_dir") and exists and not os.path.isdir(from_env):
        raise ConfigurationError(f"$BENCH_DATA {from_env!r} is not a folder")
    return args.func(args)


def interrupted_words() -> str:
    """What a stop left behind, for ``bench: interrupted; …``: the materials this process
    stored (a run resumes from them), or that nothing was stored."""
    runner = sys.modules.get("bench.run.runner")  # not imported: no run in this process
    stored = dict(runner.STORED) if runner is not None else {}
    if not stored:
        began = runner is not None and runner.STARTED
        return "no material finished, nothing was stored" + (", re-run to start" if began else "")
    where = ", ".join(f"{n} in {shown(path)}" for path, n in stored.items())
    return f"finished materials are stored ({where}), re-run to continue"


def _error(text: object) -> None:
    """``bench: error: TEXT`` on stderr, its control characters escaped; newlines kept, for
    the tables some errors carry (the contract check before a run): untrusted parts are
    escaped where the message is made (:func:`bench.terminal.shown`)."""
    echo(f"bench: error: {text}", file=sys.stderr)


def _main(args: argparse.Namespace) -> int:
    """Run a command; expected problems become one line on stderr and an exit code."""
    import sqlite3

    try:
        return _dispatch(args)
    except ModelUnavailableError as err:  # known model, no package or weights here: not usage
        _error(err)
        return 1
    except ConfigurationError as err:
        _error(err)
        return 2
    except BenchBugError as err:  # the one place that says how to see more
        _error(f"{err} (run with --debug for the traceback)")
        return 1
    except BenchError as err:  # a damaged or foreign store or records folder, named
        _error(err)
        return 1
    except FileNotFoundError as err:  # DataNotFoundError: missing reference data, offline
        _error(err)
        return 2
    except (NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError) as err:
        _error(f"{err.strerror or err}: {err.filename or ''}")
        return 1
    except BrokenPipeError:  # e.g. `bench models | head`: the reader left, nothing is lost
        _reader_left(sys.stdout)
        return 0
    except OSError as err:  # disk full, read-only file system: the file named, not a bug
        if err.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        _error(f"{err.strerror}: {err.filename or ''}")
        return 1
    except sqlite3.OperationalError as err:
        hint = (
            " (another bench process holds the store; wait for it or use another --out)"
            if "locked" in str(err)
            else " (is the store a bench results directory, and writable?)"
        )
        _error(f"results store: {err}{hint}")
        return 1
    except sqlite3.DatabaseError as err:
        _error(f"results store is not a database ({err})")
        return 1
    except KeyboardInterrupt:
        echo(f"\nbench: interrupted; {interrupted_words()}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
