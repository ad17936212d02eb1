"""``bench speed gpu --model M``: what one GPU does with a model, in one command.

For each engine (``ase``; further engines as ``bench run --engine`` knows them) it runs the
model on ``mdr-smoke`` (phonons) and ``elastic-smoke`` (elasticity), one worker on the first
GPU, into a scratch store, and reads the records: materials per hour (from the materials'
own wall times, so the model's loading is not in it), the model's share of that time, the
largest GPU memory peak of a material, with the GPU's name and the torch and CUDA versions.
Rows are appended to ``<out>/gpu.csv`` and the latest ones written as a section of
``<out>/README.md``. On a machine without a GPU it stops before any work (exit 2).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import ConfigurationError
from bench.models.devices import fake_gpu_count, visible_gpu_count
from bench.tasks import table2_tasks

#: (task, subset) measured: each Table 2 task on its default subset (mdr-smoke, elastic-smoke)
SUBSETS = tuple((task.name, task.default_subset) for task in table2_tasks())
#: a material slower than this on a GPU is a timeout record: the whole stays within minutes
MATERIAL_TIMEOUT_S = 120.0
#: the README section this command owns, between these two lines
BEGIN, END = "<!-- bench speed gpu: begin -->", "<!-- bench speed gpu: end -->"
COLUMNS = (
    "model",
    "engine",
    "task",
    "subset",
    "n_materials",
    "n_ok",
    "materials_per_h",
    "model_share",
    "gpu_peak_MB",
    "gpu",
    "torch",
    "cuda",
)


def gpu_info() -> dict[str, str]:
    """The first GPU's name and the torch and CUDA versions; ConfigurationError (one line,
    exit 2) on a machine without a GPU."""
    if not visible_gpu_count():
        raise ConfigurationError(
            "bench speed gpu measures a GPU and this machine has none (torch sees no CUDA "
            "device); nothing was run or written"
        )
    import torch

    name = "test GPU" if fake_gpu_count() is not None else torch.cuda.get_device_name(0)
    return {"gpu": name, "torch": torch.__version__, "cuda": str(torch.version.cuda)}


def _config(model: str, task: str, subset: str, engine: str, scratch: str, **options: Any):
    """The run of one (engine, task, subset): one worker on the first GPU, scratch store."""
    from bench.run.config import RunConfig

    fields = {
        "model": model,
        "task": task,
        "subset": subset,
        "device": "cuda",
        "gpus": (0,),
        "out_dir": scratch,
        "progress": False,
        "material_timeout_s": MATERIAL_TIMEOUT_S,
        "keep_force_constants": False,
        **options,
    }
    if engine != "ase":  # an engine field exists where bench run has --engine
        if "engine" not in {f.name for f in dataclasses.fields(RunConfig)}:
            raise ConfigurationError(f"--engine {engine}: this bench runs only the ase engine")
        fields["engine"] = engine
    return RunConfig(**fields)


def measure_gpu(
    model: str, engines: tuple[str, ...] = ("ase",), **options: Any
) -> list[dict[str, Any]]:
    """One row per (engine, task, subset); ``options``: RunConfig fields (``checkpoint``,
    ``dtype``, ``threads``, ``limit``, ``data_dir``)."""
    from bench.run.runner import run
    from bench.run.store import Store

    info = gpu_info()
    rows = []
    for engine in engines:
        for task, subset in SUBSETS:
            with tempfile.TemporaryDirectory(prefix="bench-speed-gpu-") as scratch:
                summary = run(_config(model, task, subset, engine, scratch, **options))
                with Store(scratch, read_only=True) as store:
                    records = store.raw_records()
            rows.append({**_row(records), "model": summary.model, "engine": engine, **info})
            rows[-1] |= {"task": task, "subset": subset}
    return rows


def measure_and_write(
    models: list[str], engines: tuple[str, ...], out: Path, command: str, **options: Any
) -> list[dict[str, Any]]:
    """:func:`measure_gpu` of each model, appended to ``out/gpu.csv`` and written as the
    section of ``out/README.md``; the new rows. No GPU: ConfigurationError before any work."""
    from bench.speed.forward import append_rows

    gpu_info()
    rows = [row for model in models for row in measure_gpu(model, engines, **options)]
    frame = append_rows(rows, out / "gpu.csv", command)
    write_readme(out / "README.md", readme_section(frame, command))
    return rows


def _row(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Materials per hour of one worker, the model's share of the time, the GPU peak."""
    wall = sum(r["wall_s"] or 0.0 for r in records)
    in_model = sum((r["timings_s"] or {}).get("model", 0.0) for r in records)
    peaks = [(r["details"] or {}).get("material_gpu_peak_MB") for r in records]
    peaks = [p for p in peaks if p is not None]
    return {
        "n_materials": len(records),
        "n_ok": sum(r["status"] == "ok" for r in records),
        "materials_per_h": 3600.0 * len(records) / wall if wall else None,
        "model_share": in_model / wall if wall else None,
        "gpu_peak_MB": max(peaks) if peaks else None,
    }


def readme_section(frame: pd.DataFrame, command: str) -> str:
    """The README section of the latest row per (model, engine, task, subset)."""
    latest = frame.drop_duplicates(["model", "engine", "task", "subset"], keep="last")
    lines = [
        BEGIN,
        "# One GPU (`bench speed gpu`)",
        "",
        "Written by the command itself (one worker on the first GPU; materials/h from the",
        "materials' own wall times; model share: time inside the model; GPU peak: the largest",
        "of a material, torch's allocator). Latest run:",
        "",
        "```bash",
        command,
        "```",
        "",
        "| model | engine | task, subset | materials/h | model share | GPU peak | GPU | torch "
        "| CUDA |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in latest.to_dict("records"):
        share = "–" if pd.isna(row["model_share"]) else f"{100 * row['model_share']:.0f} %"
        rate = "–" if pd.isna(row["materials_per_h"]) else f"{row['materials_per_h']:,.0f}"
        peak = "–" if pd.isna(row["gpu_peak_MB"]) else f"{row['gpu_peak_MB']:,.0f} MB"
        lines.append(
            f"| {row['model']} | {row['engine']} | {row['task']}, {row['subset']} "
            f"({row['n_ok']}/{row['n_materials']} ok) | {rate} | {share} | {peak} | "
            f"{row['gpu']} | {row['torch']} | {row['cuda']} |"
        )
    return "\n".join([*lines, END])


def write_readme(readme: Path, section: str) -> Path:
    """``section`` in place of the one already in ``readme`` (else at its end)."""
    from bench.run.atomic import write_text

    text = readme.read_text() if readme.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
    return write_text(readme, text)
