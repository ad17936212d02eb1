"""Worker in another Python environment: ``python -m bench.run.remote --model KEY ...``.

Protocol (JSON lines): the worker loads the model once and writes ``{"ready": true}`` (or
``{"error": "..."}``); then for each task line ``{"task", "dataset", "material_id",
"settings", "data_dir", "batch"}`` on stdin it writes one record line. The protocol uses the
original stdout; everything the model packages print goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path


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
    args = parser.parse_args(argv)

    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # library prints must not hit the protocol
    warnings.simplefilter("ignore")

    from bench.errors import BenchBugError
    from bench.run.runner import _set_threads
    from bench.settings import settings_digest, settings_from_dict
    from bench.tasks import TASKS, run_one

    _set_threads(args.threads)
    try:
        from bench.models import load_model

        model = load_model(
            args.model, device=args.device, dtype=args.dtype, checkpoint=args.checkpoint
        )
    except Exception as err:
        protocol.write(json.dumps({"error": f"{type(err).__name__}: {err}"}) + "\n")
        return 1
    protocol.write(json.dumps({"ready": True, "python": sys.executable}) + "\n")
    for line in sys.stdin:
        job = json.loads(line)
        if os.environ.get("BENCH_TEST_KILL_WORKER_ON") == job["material_id"]:  # tests
            os._exit(70)
        settings = settings_from_dict(TASKS[job["task"]].settings_cls, job["settings"])
        if settings_digest(settings) != job["digest"]:
            record = {"error": "settings changed in transit (different bench versions?)"}
        else:
            data_dir = Path(job["data_dir"]) if job["data_dir"] else None
            try:
                record = run_one(
                    job["task"],
                    model,
                    job["dataset"],
                    job["material_id"],
                    settings,
                    data_dir,
                    job["batch"],
                    job.get("timeout_s"),
                )
            except BenchBugError as err:  # the client stops the run with this line
                record = {"error": str(err)}
        protocol.write(json.dumps(record, default=_plain) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
