"""``bench check-model MODEL``: the model contract (:mod:`bench.testing`) on any model, as a
pass/fail table with its tolerances; exit 1 when a check fails."""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from bench.commands.run import add_model_source_options
from bench.errors import ConfigurationError, ModelUnavailableError
from bench.limits import CHECK_TIMEOUT_S, MAX_LIMIT_S
from bench.terminal import echo, shown


def add_parser(sub: Any) -> None:
    """The ``check-model`` subcommand."""
    p = sub.add_parser(
        "check-model",
        help="check a model against the contract: shapes, forces = -dE/dx, stress = "
        "(1/V) dE/deps, batched = one by one, dtype, invariances",
    )
    p.add_argument(
        "model", help="catalogue key, models-file entry, plug-in or import path module:function"
    )
    add_model_source_options(p)
    p.add_argument("--name", help="the label to print for the model")
    p.add_argument("--checkpoint", help="local checkpoint file")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--dtype", help="model precision (default: the one for second-order work)")
    p.add_argument(
        "--direct",
        action="store_true",
        help="the model predicts forces directly: check that they are not the energy's gradient",
    )
    p.add_argument(
        "--approx-rotation",
        action="store_true",
        help="the model is not rotation-equivariant by construction (e.g. Orb-v3): report its "
        "rotation errors without failing",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=CHECK_TIMEOUT_S,
        metavar="SECONDS",
        help="one time limit for loading the model and its checks together (default "
        f"{CHECK_TIMEOUT_S:g} s, at most {MAX_LIMIT_S:g}; 0: none)",
    )
    p.set_defaults(func=cmd_check_model)


def cmd_check_model(args: argparse.Namespace) -> int:
    from bench.models import resolve
    from bench.models.external import load_models_file
    from bench.models.weights import require_weights
    from bench.run.envworker import worker_python
    from bench.run.runlog import stdout_kept
    from bench.testing import format_checks

    if args.models_file:
        load_models_file(args.models_file)
    if not (math.isfinite(args.timeout) and 0 <= args.timeout <= MAX_LIMIT_S):  # NaN too
        raise ConfigurationError(
            f"--timeout {args.timeout}: a number of seconds up to {MAX_LIMIT_S:g}, 0 for none"
        )
    spec = resolve(args.model, tuple(args.model_arg or ()))
    require_weights(spec, args.checkpoint)
    python = worker_python(spec)  # a models-file python:, or the family's own environment
    kept: list[str] = []
    try:
        with stdout_kept() as kept:  # the model's own prints, shown escaped
            outcome = _checks_in(python, spec, args) if python else _checked(spec, args)
    finally:
        for line in "".join(kept).splitlines():
            echo(f"  (model output) {shown(line)}")
    if isinstance(outcome, str):
        echo(f"{shown(args.name or spec.key)}: FAILED: {shown(outcome)}")
        return 1
    checks, device, dtype = outcome
    where = f"; in {python}" if python else ""
    echo(f"{shown(args.name or spec.key)} ({shown(spec.source)}; {shown(device)}, {dtype}{where}):")
    echo(format_checks(checks))
    failed = [c.name for c in checks if c.passed is False]
    if failed:
        echo(f"FAILED: {len(failed)} of {len(checks)} checks ({'; '.join(failed)})")
        return 1
    echo(f"passed: {sum(c.passed is True for c in checks)} checks (n/a: not applicable)")
    return 0


def _checked(spec: Any, args: argparse.Namespace) -> tuple[list, str, str] | str:
    """(checks, device, dtype) of ``spec`` loaded and checked here, both within one
    ``--timeout``; else why the model failed its checks, in words: an exception,
    ``sys.exit``/``os._exit`` or a library's BaseException in its code, or the time limit
    (a factory that fails, exits or never returns is a ModelUnavailableError: one line)."""
    from bench import limits
    from bench.run.worker import load_limited
    from bench.testing import check_model

    deadline = _deadline(args)  # loading ends by then too: the checks get what is left
    model = load_limited(spec.token, args.device, args.dtype, args.checkpoint, args.timeout or None)

    def late() -> limits.OverTime:
        return limits.OverTime(f"the checks did not finish within {_spent(args)}")

    try:
        left = _left(deadline)
        if left is not None and left <= 0:
            raise late()
        with limits.time_limit(left, late), limits.exits_guarded():
            checks = check_model(
                model, conservative=not args.direct, rotation=not args.approx_rotation
            )
        return checks, model.device, model.dtype
    except Exception as err:  # the model raised on a contract cell
        return f"the model raised {type(err).__name__}: {err}"
    except BaseException as err:
        words = limits.escaped_words(err)
        if words is None:  # Ctrl-C, SIGTERM
            raise
        return words


def _checks_in(python: str, spec: Any, args: argparse.Namespace) -> tuple[list, str, str]:
    """(checks, device, dtype) of ``spec`` in its own interpreter ``python``, its import check
    (one line naming what that environment lacks), loading and checks within one
    ``--timeout``; anything that stops them is a ModelUnavailableError (one line)."""
    from bench.models.ownenv import check_python
    from bench.run.answer import ask
    from bench.testing import Check

    deadline = _deadline(args)
    check_python(python, spec, _left(deadline))
    kind = ("direct" if args.direct else "conservative") + ("-approx" * args.approx_rotation)
    command = [python, "-m", "bench.run.remote", "--model", spec.token, "--contract", kind]
    for flag, value in (("--device", args.device), ("--dtype", args.dtype)):
        command += [flag, value] if value else []
    command += ["--checkpoint", args.checkpoint] if args.checkpoint else []
    label = f"{spec.key}: {python} -m bench.run.remote"
    doing = f" (what is left of {_spent(args)}: loading the model and its checks)"
    left = _left(deadline)
    answer = ask(command, None if left is None else max(left, 0.001), label, doing)
    echo(answer.stderr, end="")  # what the model printed there: shown as it is here
    found = answer.loaded(spec.key, python)
    try:
        return [Check(**c) for c in found["checks"]], found["device"], found["dtype"]
    except (KeyError, TypeError) as err:
        raise ModelUnavailableError(f"{label} answered without its checks ({err!r})") from None


def _deadline(args: argparse.Namespace) -> float | None:
    """When ``--timeout`` ends (``time.monotonic``), from now; None: no limit."""
    return time.monotonic() + args.timeout if args.timeout else None


def _left(deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (None: no limit)."""
    return None if deadline is None else deadline - time.monotonic()


def _spent(args: argparse.Namespace) -> str:
    """``--timeout`` in words, for the line that says it ran out."""
    return f"{args.timeout:g} s (--timeout: loading the model and its checks)"
