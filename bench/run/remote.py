"""Worker in another Python environment: ``python -m bench.run.remote --model KEY ...``.

Protocol (JSON lines): the worker loads the model once and writes ``{"ready": true}`` (or
``{"error": "..."}``); then for each line ``{**Job.to_json(), "material_id"}`` on stdin
(:class:`bench.run.config.Job`) it writes one record line. With ``--probe TASK`` it writes
the model's probes instead (:func:`bench.run.probe.probe`) and exits. The protocol uses the
original stdout; everything the model packages print goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from typing import Any


def _plain(value: object) -> object:
    """numpy scalars and arrays as plain JSON values."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run.remote")
    parser.add_argument("--model", required=True)
    parser.add_argument("--device")
    parser.add_argument("--dtype")
    parser.add_argument("--checkpoint")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--probe", metavar="TASK", help="answer the run's probes, then exit")
    parser.add_argument("--no-check", action="store_true", help="--probe: fingerprint only")
    parser.add_argument(
        "--probe-materials",
        nargs=2,
        metavar=("DATASET", "IDS"),
        help="--probe: the run's first materials (comma-separated ids), the check's cells "
        "when the model evaluates no probe cell",
    )
    parser.add_argument("--data-dir", help="--probe-materials: the data directory")
    parser.add_argument(
        "--contract",
        choices=["conservative", "direct", "conservative-approx", "direct-approx"],
        help="answer bench check-model's checks (direct forces; approximate rotation), exit",
    )
    args = parser.parse_args(argv)

    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # library prints must not hit the protocol
    warnings.simplefilter("ignore")

    from bench.errors import BenchBugError
    from bench.run.config import Job
    from bench.run.threads import set_threads

    set_threads(args.threads)
    try:
        from bench.models import load_model

        model = load_model(
            args.model, device=args.device, dtype=args.dtype, checkpoint=args.checkpoint
        )
    except Exception as err:
        protocol.write(json.dumps({"error": f"{type(err).__name__}: {err}"}) + "\n")
        return 1
    if args.contract or args.probe:
        protocol.write(json.dumps(_answer(args, model)) + "\n")
        return 0
    protocol.write(json.dumps({"ready": True, "python": sys.executable}) + "\n")
    for line in sys.stdin:
        message = json.loads(line)
        if os.environ.get("BENCH_TEST_KILL_WORKER_ON") == message["material_id"]:  # tests
            os._exit(70)
        try:
            record = Job.from_json(message).run(model, message["material_id"])
        except (ValueError, BenchBugError) as err:  # the client stops the run with this line
            record = {"error": str(err)}
        protocol.write(json.dumps(record, default=_plain) + "\n")
    return 0


def _answer(args: argparse.Namespace, model: Any) -> dict[str, Any]:
    """``--contract``: bench check-model's checks; ``--probe TASK``: the run's probes."""
    if args.contract:
        import dataclasses

        from bench.testing import check_model

        kind = args.contract.split("-")
        checks = check_model(model, kind[0] == "conservative", "approx" not in kind)
        rows = [dataclasses.asdict(c) for c in checks]
        return {"checks": rows, "device": model.device, "dtype": model.dtype}
    from bench.run.precheck import stress_use
    from bench.run.probe import material_fallback, probe

    dataset, ids = (args.probe_materials or [None, ""])[:2]
    fallback = material_fallback(dataset, ids.split(",") if ids else None, args.data_dir)
    return probe(model, stress_use(args.probe), check=not args.no_check, fallback=fallback)


if __name__ == "__main__":
    sys.exit(main())
