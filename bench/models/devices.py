"""Devices: ``--device`` resolved on this machine, the GPUs it can see, and how a device is
named in records and manifests (``cpu``, ``cuda:N (GPU name)``).

Without a GPU, tests make GPUs "visible" with ``BENCH_TEST_GPUS=N`` (fault injection, as the
other ``BENCH_TEST_*`` variables): :func:`visible_gpu_count` then says N, ``--device cuda`` is
accepted, and a model that runs on the CPU anyway (EMT) does; nothing else changes.
"""

from __future__ import annotations

import gc
import os
import re
import sys

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


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` (or what it was raised from, e.g. a ModelError wrapping the model's
    exception) is CUDA running out of memory: ``torch.cuda.OutOfMemoryError``, or a
    RuntimeError saying "out of memory" (older torch, other CUDA libraries)."""
    torch = sys.modules.get("torch")
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    seen: BaseException | None = err
    for _ in range(8):  # the chain of causes, bounded
        if seen is None:
            return False
        if oom_type is not None and isinstance(seen, oom_type):
            return True
        if isinstance(seen, RuntimeError) and "out of memory" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def free_gpu_memory() -> None:
    """Drop what Python still holds and hand torch's cached CUDA blocks back (nothing without
    CUDA), so the next evaluation starts from the live size."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _cuda_in_use() -> object | None:
    """torch, when this process has initialised CUDA (a model on a GPU), else None."""
    torch = sys.modules.get("torch")
    if torch is None or fake_gpu_count() is not None or not torch.cuda.is_initialized():
        return None
    return torch


def reset_gpu_peak() -> None:
    """Restart the CUDA allocator's peak (nothing when this process uses no GPU)."""
    torch = _cuda_in_use()
    if torch is not None:
        torch.cuda.reset_peak_memory_stats()


def gpu_peak_mb() -> float | None:
    """The most GPU memory torch allocated since :func:`reset_gpu_peak` [MB]; None without a
    GPU in use."""
    torch = _cuda_in_use()
    return None if torch is None else torch.cuda.max_memory_allocated() / 2**20
