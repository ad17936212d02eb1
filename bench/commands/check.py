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
    from bench.models import load_model, resolve
    from bench.models.external import load_models_file
    from bench.models.weights import require_weights
    from bench.testing import check_model, format_checks

    if args.models_file:
        load_models_file(args.models_file)
    spec = resolve(args.model, tuple(args.model_arg or ()))
    require_weights(spec, args.checkpoint)
    model = load_model(spec.token, device=args.device, dtype=args.dtype, checkpoint=args.checkpoint)
    checks = check_model(model, conservative=not args.direct, rotation=not args.approx_rotation)
    print(f"{spec.key} ({spec.source}; {model.device}, {model.dtype}):")
    print(format_checks(checks))
    failed = [c.name for c in checks if c.passed is False]
    if failed:
        print(f"FAILED: {len(failed)} of {len(checks)} checks ({'; '.join(failed)})")
        return 1
    print(f"passed: {sum(c.passed is True for c in checks)} checks (n/a: not applicable)")
    return 0
