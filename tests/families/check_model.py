"""Load a model through bench's adapter and run the contract checks (bench.testing) on it in
this interpreter; JSON to stdout.

Usage: python check_model.py MODEL_KEY CHECKPOINT|- DTYPE|- conservative|direct exact|approx
(``-``: the packaged weights, the default dtype; ``approx``: rotation errors not judged).
Prints the dtype run, the checkpoint loaded, the dtype of the torch parameters the calculator
holds, whether the adapter batches, and every check. tests/contract.py asserts.
"""

import dataclasses
import json
import sys
import warnings

warnings.simplefilter("ignore")

from bench.models import load_model  # noqa: E402
from bench.testing import check_model, torch_dtype  # noqa: E402

key, checkpoint, dtype, kind, rotation = sys.argv[1:6]
model = load_model(
    key,
    checkpoint=None if checkpoint == "-" else checkpoint,
    dtype=None if dtype == "-" else dtype,
)
checks = check_model(model, conservative=kind == "conservative", rotation=rotation == "exact")
out = {
    "dtype": model.dtype,
    "checkpoint": model.checkpoint,
    "param_dtype": torch_dtype(model.calculator),
    "batched": model.batch_forces is not None,
    "checks": [dataclasses.asdict(c) for c in checks],
}
print("BENCH-JSON " + json.dumps(out))
