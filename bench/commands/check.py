"""``bench check-model MODEL``: the model contract (:mod:`bench.testing`) on any model, as a
pass/fail table with its tolerances; exit 1 when a check fails."""

from __future__ import annotations

import argparse
from typing import Any

from bench.commands.run import add_model_source_options


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
    p.set_defaults(func=cmd_check_model)


def cmd_check_model(args: argparse.Namespace) -> int:
    from bench.models import resolve
    from bench.models.external import load_models_file
    from bench.models.weights import require_weights
    from bench.run.envworker import worker_python
    from bench.testing import format_checks

    if args.models_file:
        load_models_file(args.models_file)
    spec = resolve(args.model, tuple(args.model_arg or ()))
    require_weights(spec, args.checkpoint)
    python = worker_python(spec)  # a models-file python:, or the family's own environment
    if python is not None:
        checks, device, dtype = _checks_in(python, spec, args)
    else:
        checks, device, dtype = _checks_here(spec, args)
    where = f"; in {python}" if python else ""
    print(f"{args.name or spec.key} ({spec.source}; {device}, {dtype}{where}):")
    print(format_checks(checks))
    failed = [c.name for c in checks if c.passed is False]
    if failed:
        print(f"FAILED: {len(failed)} of {len(checks)} checks ({'; '.join(failed)})")
        return 1
    print(f"passed: {sum(c.passed is True for c in checks)} checks (n/a: not applicable)")
    return 0


def _checks_here(spec: Any, args: argparse.Namespace) -> tuple[list, str, str]:
    """The contract checks of ``spec`` loaded in this process; (checks, device, dtype)."""
    from bench.models import load_model
    from bench.testing import check_model

    model = load_model(spec.token, device=args.device, dtype=args.dtype, checkpoint=args.checkpoint)
    checks = check_model(model, conservative=not args.direct, rotation=not args.approx_rotation)
    return checks, model.device, model.dtype


def _checks_in(python: str, spec: Any, args: argparse.Namespace) -> tuple[list, str, str]:
    """The contract checks of ``spec`` in its own interpreter ``python`` (checked first: one
    line naming what that environment lacks); (checks, device, dtype)."""
    import json
    import subprocess

    from bench.errors import ModelUnavailableError
    from bench.models.ownenv import check_python
    from bench.testing import Check

    check_python(python, spec)
    kind = ("direct" if args.direct else "conservative") + ("-approx" * args.approx_rotation)
    command = [python, "-m", "bench.run.remote", "--model", spec.token, "--contract", kind]
    for flag, value in (("--device", args.device), ("--dtype", args.dtype)):
        command += [flag, value] if value else []
    command += ["--checkpoint", args.checkpoint] if args.checkpoint else []
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    answer = json.loads(lines[-1]) if lines else {"error": done.stderr.strip()[-300:]}
    if "error" in answer:
        raise ModelUnavailableError(f"{spec.key} failed to load in {python}: {answer['error']}")
    return [Check(**c) for c in answer["checks"]], answer["device"], answer["dtype"]
