"""Devices: ``--device`` resolved on this machine, the GPUs it can see, and how a device is
named in records and manifests (``cpu``, ``cuda:N (GPU name)``).

Without a GPU, tests make GPUs "visible" with ``BENCH_TEST_GPUS=N`` (fault injection, as the
other ``BENCH_TEST_*`` variables): :func:`visible_gpu_count` then says N, ``--device cuda`` is
accepted, and a model that runs on the CPU anyway (EMT) does; nothing else changes.
"""

from __future__ import annotations

import os
import re

from bench.errors import ConfigurationError

#: tests only: this many GPUs are taken as visible (the machine need not have one)
FAKE_GPUS_ENV = "BENCH_TEST_GPUS"


def fake_gpu_count() -> int | None:
    """The GPUs ``BENCH_TEST_GPUS`` makes visible, or None when unset."""
    value = os.environ.get(FAKE_GPUS_ENV, "").strip()
    return int(value) if value.isdigit() else None


def visible_gpu_count() -> int:
    """CUDA devices this process can see (0 without torch or CUDA)."""
    fake = fake_gpu_count()
    if fake is not None:
        return fake
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_device(device: str | None) -> str:
    """``cpu``/``cuda``/``cuda:N`` as given, or the best available when None or ``auto``."""
    if device in (None, "auto"):
        return "cuda" if visible_gpu_count() else "cpu"
    if device != "cpu" and not re.fullmatch(r"cuda(:\d+)?", device):
        raise ConfigurationError(f"unknown device {device!r}; choose cpu, cuda, cuda:N or auto")
    if device.startswith("cuda") and not visible_gpu_count():
        raise ConfigurationError(
            f"--device {device}: no CUDA device is available here (use --device cpu or auto)"
        )
    return device


def describe_device(device: str) -> str:
    """``device`` as run: ``cpu``, or ``cuda:N (GPU name)``."""
    if not device.startswith("cuda"):
        return device
    if fake_gpu_count() is not None:
        index = device.split(":")[1] if ":" in device else "0"
        return f"cuda:{index} (test GPU)"
    import torch

    index = int(device.split(":")[1]) if ":" in device else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
