"""GPUs for workers (``--gpus``): which GPUs a run uses, the one each worker gets (round-robin,
several workers per GPU allowed), and the environment that gives it to the worker process.

Each worker process is started with ``CUDA_VISIBLE_DEVICES`` naming its one GPU (so it sees it
as ``cuda:0`` and cannot touch the others) and ``BENCH_WORKER_GPU`` naming it as the run does
(``--gpus`` index), which its records carry (``details.device``). GPU indices are those of the
GPUs this process sees: under ``CUDA_VISIBLE_DEVICES=2,3``, ``--gpus 1`` is physical GPU 3.
"""

from __future__ import annotations

import os
from typing import Any

from bench.errors import ConfigurationError
from bench.models.devices import describe_device, visible_gpu_count

#: the ``--gpus`` entry a worker runs on (set in its environment; its records name it)
WORKER_GPU_ENV = "BENCH_WORKER_GPU"


def parse_gpus(text: str) -> tuple[int, ...]:
    """``"0,1"`` -> ``(0, 1)``; ConfigurationError on anything but distinct indices."""
    items = [item.strip() for item in str(text).split(",")]
    if not items or not all(item.isdigit() for item in items):
        raise ConfigurationError(f"--gpus takes GPU indices such as 0,1 (got {text!r})")
    gpus = tuple(int(item) for item in items)
    if len(set(gpus)) != len(gpus):
        raise ConfigurationError(f"--gpus names a GPU twice ({text}); give each once")
    return gpus


def run_gpus(device: str | None, gpus: tuple[int, ...] | None, planning: bool = False):
    """The GPUs the run's workers use, or None when it does not spread over GPUs (``cpu``,
    ``cuda:N`` as given, ``auto`` without a GPU). Default with ``cuda`` (or ``auto`` on a GPU
    machine): every visible GPU. ``planning`` (``--dry-run``): ``--gpus`` is taken as given on
    a machine without GPUs, the plan being for one that has them."""
    if gpus is None and device not in (None, "auto", "cuda"):
        return None  # cpu, cuda:N: as given (and no torch import on a CPU run)
    visible = visible_gpu_count()
    if gpus is not None:
        if device not in (None, "auto", "cuda"):
            raise ConfigurationError(
                f"--gpus needs --device cuda (or auto), not {device}: it spreads the workers "
                "over GPUs"
            )
        beyond = [g for g in gpus if g >= visible]
        if visible and beyond:
            raise ConfigurationError(
                f"--gpus {','.join(map(str, gpus))}: this machine sees {visible} GPUs "
                f"(0-{visible - 1})"
            )
        if not visible and not planning:
            raise ConfigurationError("--gpus: no CUDA device is available here")
        return tuple(gpus)
    if device == "cuda" or (device in (None, "auto") and visible):
        if not visible:
            if planning:
                raise ConfigurationError(
                    "--device cuda: no CUDA device is visible here; give --gpus LIST to plan "
                    "for a machine that has them"
                )
            return None  # resolve_device says why in one line
        return tuple(range(visible))
    return None


def worker_gpus(gpus: tuple[int, ...], workers: int) -> list[int]:
    """The GPU of each of ``workers`` workers: round-robin over ``gpus``."""
    return [gpus[n % len(gpus)] for n in range(workers)]


def gpu_env(gpu: int) -> dict[str, str]:
    """The environment of a worker process on ``gpu`` (an index among this process's GPUs)."""
    parent = os.environ.get("CUDA_VISIBLE_DEVICES")
    entries = [e.strip() for e in parent.split(",")] if parent else []
    physical = entries[gpu] if gpu < len(entries) else str(gpu)
    return {"CUDA_VISIBLE_DEVICES": physical, WORKER_GPU_ENV: str(gpu)}


def worker_envs(config: Any, workers: int) -> list[dict[str, str]] | None:
    """The GPU environment of each of ``workers`` worker processes of ``config`` (a
    RunConfig), or None when the run does not spread over GPUs."""
    gpus = run_gpus(config.device, config.gpus)
    if gpus is None:
        return None
    return [gpu_env(gpu) for gpu in worker_gpus(gpus, workers)]


def worker_device(config: Any) -> str | None:
    """The ``--device`` a worker process loads its model on: ``cuda`` (its one visible GPU)
    when the run spreads over GPUs, else the run's."""
    return "cuda" if run_gpus(config.device, config.gpus) else config.device


def in_process_device(config: Any) -> str | None:
    """The device of a model evaluated in the client process: the first GPU of the run's when
    it spreads over GPUs (no worker environment to give it), else the run's ``--device``."""
    gpus = run_gpus(config.device, config.gpus)
    return f"cuda:{gpus[0]}" if gpus else config.device


def record_device(model_device: str) -> dict[str, Any]:
    """What a record says about the device of the worker that made it: ``device`` (the GPU as
    the run names it, ``cuda:N``, or the model's device) and, on a GPU worker, its ``gpu`` and
    ``cuda_visible_devices``."""
    gpu = os.environ.get(WORKER_GPU_ENV)
    if gpu is None:
        return {"device": model_device}
    device = f"cuda:{gpu}" if model_device.startswith("cuda") else model_device
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return {"device": device, "gpu": int(gpu), "cuda_visible_devices": visible}


def worker_gpu_names(config: Any) -> list[str] | None:
    """``cuda:N`` of each worker of a run spread over GPUs (the manifest's), else None."""
    gpus = None if config.scheduler else run_gpus(config.device, config.gpus)
    if not gpus:
        return None
    return [f"cuda:{gpu}" for gpu in worker_gpus(gpus, config.workers)]


def run_device(config: Any, loaded: str) -> str:
    """The device a run prints and its manifest keeps: the GPUs its workers are spread over
    (one worker: the first, the one the model was loaded on here, ``loaded``), a Dask
    cluster's as given, else the loaded model's (a factory that chose its own)."""
    if config.scheduler:
        return f"{config.device or 'auto'} (on the dask workers)"
    gpus = run_gpus(config.device, config.gpus)
    if gpus and config.workers > 1:
        return ", ".join(describe_device(f"cuda:{gpu}") for gpu in gpus[: config.workers])
    return describe_device(loaded)
