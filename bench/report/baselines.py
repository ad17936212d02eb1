"""MAE regression baselines: record a model's MAEs on a subset, then guard them.

``bench baseline make`` runs (model, task, subset) several times with different worker and
thread counts into throw-away stores, and writes
``results/baselines/<model>__<task>__<subset>.json``: MAEs, counts, per-material values, the
measured run-to-run spread, the tolerance derived from it, the settings digest, data checksums,
versions and the command. ``bench baseline check`` (and the CI test) reruns the same job and
fails when an MAE leaves its tolerance, the set of failing materials changes, or the settings
or data differ from the baseline's.
"""

from __future__ import annotations

import json
import shlex
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.bounded import MANIFEST, read_json
from bench.errors import ConfigurationError
from bench.names import safe_name
from bench.report.metrics import mae_table
from bench.run.atomic import write_text
from bench.run.manifest import machine, package_versions
from bench.run.runner import RunConfig, prepare, run
from bench.run.store import Store
from bench.settings import settings_digest
from bench.tasks import TASKS

BASELINE_DIR = Path("results/baselines")
#: Tolerance = max(SPREAD_FACTOR x measured spread, REL_FLOOR x MAE, ABS_FLOOR[property]).
#: The floors absorb numerical noise between machines of the same kind (BLAS, thread count);
#: they sit far below what a real bug moves (see results/baselines/README.md).
SPREAD_FACTOR = 5.0
REL_FLOOR = 0.01
ABS_FLOOR = {p.name: p.tolerance_floor for task in TASKS.values() for p in task.props}


def baseline_path(model: str, task: str, subset: str, directory: Path = BASELINE_DIR) -> Path:
    """``<directory>/<model>__<task>__<subset>.json`` (names made safe, bench.names)."""
    return Path(directory) / f"{'__'.join(safe_name(x) for x in (model, task, subset))}.json"


def _run_once(
    model: str,
    task: str,
    subset: str,
    workers: int,
    overrides: Sequence[str],
    data_dir: str | None,
    out_dir: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    config = RunConfig(
        model=model,
        task=task,
        subset=subset,
        workers=workers,
        data_dir=data_dir,
        out_dir=out_dir,
        overrides=tuple(overrides),
        progress=False,
    )
    summary = run(config)
    with Store(out_dir) as store:
        records = store.records(
            model=summary.model,
            task=task,
            dataset=summary.dataset,
            settings_digest=summary.settings_digest,
        )
        manifest = store.manifests()[-1]
    return records, manifest


def _mae(records: pd.DataFrame, task: str) -> dict[str, Any]:
    row = mae_table(records, TASKS[task].properties).iloc[0]
    return {
        "n": int(row["n"]),
        "n_ok": int(row["n_ok"]),
        "n_failed": int(row["n_failed"]),
        "mae": {p: float(row[p]) for p in TASKS[task].properties},
        # 95 % bootstrap interval over materials (bench.report.metrics.mean_interval)
        "interval": {
            p: [float(row[f"{p}.lo"]), float(row[f"{p}.hi"])] for p in TASKS[task].properties
        },
    }


def _per_material(records: pd.DataFrame, task: str) -> dict[str, dict[str, Any]]:
    out = {}
    for _, rec in records.iterrows():
        entry: dict[str, Any] = {"status": rec["status"]}
        if rec["status"] != "ok":
            entry["error_type"] = rec["error_type"]
        for prop in TASKS[task].properties:
            for side in ("model", "ref"):
                value = rec.get(f"{side}.{prop}")
                if value is not None and np.isfinite(float(value)):
                    entry.setdefault(side, {})[prop] = float(value)
        out[rec["material_id"]] = entry
    return out


def tolerance(prop: str, mae: float, spread: float) -> float:
    """Allowed |MAE - baseline MAE| for ``prop`` (units of the property)."""
    return max(SPREAD_FACTOR * spread, REL_FLOOR * abs(mae), ABS_FLOOR.get(prop, 0.0))


def make_baseline(
    model: str,
    task: str,
    subset: str,
    workers: Sequence[int] = (1, 2),
    data_dir: str | None = None,
    directory: Path = BASELINE_DIR,
    command: str | None = None,
) -> Path:
    """Run ``model`` on ``subset`` once per entry of ``workers`` and write the baseline file.

    Each repeat uses a fresh store and a different worker/thread count, so the spread is the
    run-to-run numerical noise (threaded reductions, optimiser paths), not resumed records.
    """
    repeats, manifest = [], {}
    first: pd.DataFrame | None = None
    per_material_spread: dict[str, float] = {}
    for n_workers in workers:
        with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
            records, manifest = _run_once(model, task, subset, n_workers, (), data_dir, tmp)
        repeats.append({"workers": n_workers, **_mae(records, task)})
        if first is None:
            first = records
            continue
        for prop, diff in _largest_differences(first, records, task).items():
            per_material_spread[prop] = max(per_material_spread.get(prop, 0.0), diff)
    assert first is not None
    spread = {p: float(np.ptp([r["mae"][p] for r in repeats])) for p in TASKS[task].properties}
    reference = repeats[0]
    doc = {
        "model": manifest["model"],
        "model_requested": model,
        "task": task,
        "dataset": manifest["dataset"],
        "subset": subset,
        "settings_digest": manifest["settings_digest"],
        "command": command
        or f"bench baseline make --model {model} --task {task} --subset {subset} "
        f"--workers {' '.join(map(str, workers))}",
        **_provenance(manifest),
        "n": reference["n"],
        "n_ok": reference["n_ok"],
        "n_failed": reference["n_failed"],
        "mae": reference["mae"],
        "interval": reference["interval"],
        "repeats": repeats,
        "spread": spread,
        "per_material_spread": per_material_spread,
        "tolerance_rule": {
            "spread_factor": SPREAD_FACTOR,
            "rel_floor": REL_FLOOR,
            "abs_floor": ABS_FLOOR,
        },
        "tolerance": {p: tolerance(p, reference["mae"][p], spread[p]) for p in spread},
        "per_material": _per_material(first, task),
    }
    path = baseline_path(doc["model"], task, subset, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(doc, indent=1, sort_keys=False) + "\n")
    return path


def _provenance(manifest: dict[str, Any]) -> dict[str, Any]:
    """When, from which commit, on what machine, with which versions and data files."""
    return {
        "created_at": manifest.get("started_at"),
        "git_commit": manifest.get("git_commit"),
        "machine": machine(),
        "versions": package_versions(),
        "data_checksums": manifest["data_checksums"],
    }


def _largest_differences(a: pd.DataFrame, b: pd.DataFrame, task: str) -> dict[str, float]:
    """Per property: the largest |a − b| over materials of two repeats' model values."""
    out = {}
    for prop in TASKS[task].properties:
        col = f"model.{prop}"
        if col in a and col in b:
            x = a.set_index("material_id")[col].astype(float)
            y = b.set_index("material_id")[col].astype(float)
            out[prop] = float((x - y).abs().max()) if len(x) else 0.0
    return out


@dataclass
class CheckResult:
    """Outcome of :func:`check_baseline`: ``ok`` and one line per problem found."""

    baseline: Path
    ok: bool
    mae: dict[str, float]
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def report(self) -> str:
        head = f"{self.baseline.name}: {'PASS' if self.ok else 'FAIL'}"
        return "\n".join([head, *self.lines, *(f"  ! {p}" for p in self.problems)])


def check_baseline(
    path: Path,
    workers: int = 2,
    overrides: Sequence[str] = (),
    data_dir: str | None = None,
    out_dir: str | None = None,
) -> CheckResult:
    """Rerun a baseline's job and compare. ``overrides`` (``key=value``) change the settings on
    purpose, to show that the check catches a broken setting: the digest then differs and is
    reported, but the numbers are still compared so the effect of the change is visible."""
    doc = read_json(path, MANIFEST, ConfigurationError)
    keys = {"task", "subset", "model_requested", "settings_digest"}
    if not isinstance(doc, dict) or not keys <= set(doc):
        raise ConfigurationError(f"{path}: not a baseline file (no {', '.join(sorted(keys))})")
    task, subset = doc["task"], doc["subset"]
    problems: list[str] = []
    _, _, _, effective = prepare(
        RunConfig(
            model=doc["model_requested"], task=task, subset=subset, overrides=tuple(overrides)
        )
    )
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        records, manifest = _run_once(
            doc["model_requested"], task, subset, workers, overrides, data_dir, out_dir or tmp
        )
    # the run's digest: a factory's own precision (native) is hashed under the dtype it found
    digest = manifest.get("settings_digest") or settings_digest(effective)
    if digest != doc["settings_digest"]:
        problems.append(
            f"settings digest {digest} != baseline {doc['settings_digest']}"
            + (f" (overrides: {' '.join(overrides)})" if overrides else " (defaults changed?)")
        )
    problems += _changed_inputs(doc, manifest, records, task)
    now = _mae(records, task)
    lines = []
    for prop, base in doc["mae"].items():
        value, tol = now["mae"][prop], doc["tolerance"][prop]
        delta = value - base
        verdict = "ok" if abs(delta) <= tol or (np.isnan(value) and np.isnan(base)) else "OUT"
        lo, hi = now["interval"][prop]
        lines.append(
            f"  {prop:16s} MAE {value:10.4f} [{lo:.4f}, {hi:.4f}]  baseline {base:10.4f}  "
            f"delta {delta:+9.4f}  tol {tol:.4f}  {verdict}"
        )
        if verdict != "ok":
            problems.append(f"{prop} MAE {value:.4f} vs baseline {base:.4f} (tolerance {tol:.4f})")
    return CheckResult(Path(path), not problems, now["mae"], problems, lines)


def _changed_inputs(
    doc: dict[str, Any], manifest: dict[str, Any], records: pd.DataFrame, task: str
) -> list[str]:
    """What differs from the baseline besides the MAEs: data files, per-material status."""
    problems = []
    theirs, ours = doc["data_checksums"], manifest["data_checksums"]
    if ours != theirs:
        changed = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        problems.append(f"reference data differ from the baseline's: {', '.join(changed)}")
    per_material, before = _per_material(records, task), doc["per_material"]
    flipped = sorted(
        m
        for m in set(per_material) | set(before)
        if per_material.get(m, {}).get("status") != before.get(m, {}).get("status")
    )
    if flipped:
        status = {m: (before.get(m, {}), per_material.get(m, {})) for m in flipped}
        problems.append(
            "status changed for "
            + ", ".join(
                f"{m} ({a.get('status')} -> {b.get('status')})" for m, (a, b) in status.items()
            )
        )
    return problems


def baseline_files(directory: Path = BASELINE_DIR) -> list[Path]:
    """Every baseline file of a directory, sorted."""
    return sorted(Path(directory).glob("*__*__*.json"))


def command_line(argv: Sequence[str]) -> str:
    """The shell form of a ``bench`` command (recorded in baseline files)."""
    return "bench " + shlex.join(argv)
