"""Where a model's weights are, without loading it: packaged in a wheel, cached by the
upstream package, a local file, downloadable (the host answers within seconds) or missing.

A run checks this before it creates its store (:func:`require_weights`), so a model whose
weights cannot come fails in seconds with one line instead of after the download's retries.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from bench.errors import ModelUnavailableError
from bench.models.checkpoints import ENV_VAR, checkpoint_dir
from bench.models.external import FAMILY
from bench.models.imported import missing_checkpoint
from bench.models.registry import local_checkpoint
from bench.models.spec import ModelSpec

#: seconds the reachability check of a download host may take (DNS and one TCP connect)
REACH_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class WeightsStatus:
    """``state``: none needed, packaged, local, cached, will download or missing (offline);
    ``path``: the file when on disk."""

    state: str
    path: Path | None = None

    def __str__(self) -> str:
        return f"{self.state} ({self.path})" if self.path else self.state


def reachable(url: str, timeout_s: float = REACH_TIMEOUT_S) -> bool:
    """Whether ``url``'s host resolves and accepts a TCP connection within ``timeout_s``
    (asked once per host and process: `bench models` waits for each host at most once)."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return bool(parsed.hostname) and _host_reachable(str(parsed.hostname), port, timeout_s)


@lru_cache(maxsize=16)
def _host_reachable(host: str, port: int, timeout_s: float) -> bool:
    """One DNS lookup and TCP connect in a daemon thread: a hanging lookup cannot hold the
    caller longer than ``timeout_s``."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True, name="bench-reach")
    thread.start()
    thread.join(timeout_s)
    return bool(answer and answer[0])


def weights_status(spec: ModelSpec, explicit: str | Path | None = None) -> WeightsStatus:
    """Where ``spec``'s weights would come from here (a quick network check at most). The
    ``checkpoint`` of a model outside the catalogue is a file of its own: local or missing."""
    if explicit is not None or (spec.checkpoint is None and spec.url is None):
        path = local_checkpoint(spec, explicit) if explicit is not None else None
        return WeightsStatus("local" if path else "none needed", path)
    if spec.family == FAMILY:
        path = local_checkpoint(spec)
        return WeightsStatus("local", path) if path else WeightsStatus("missing")
    path = local_checkpoint(spec)
    if path is not None:
        directory = checkpoint_dir()
        if directory is not None and path.parent == directory:
            return WeightsStatus("local", path)
        return WeightsStatus("cached" if spec.url else "packaged", path)
    if spec.url and reachable(spec.url):
        return WeightsStatus("will download")
    return WeightsStatus("missing (offline)" if spec.url else "missing")


def missing_message(spec: ModelSpec) -> str:
    """One line: which file, from where, where bench looks for it. A model outside the
    catalogue: its entry's file is not there (:func:`bench.models.imported.missing_checkpoint`);
    weights that ship in a package: they are not in the installed one."""
    if spec.family == FAMILY:
        return f"{spec.key}: {missing_checkpoint(spec) or f'checkpoint {spec.checkpoint}'}"
    where = checkpoint_dir()
    cache = f"the cache {Path(spec.cache).expanduser()}, " if spec.cache else ""
    put = f"${ENV_VAR}" + (f" ({where})" if where else "") + " or pass --checkpoint PATH"
    if not spec.url:  # nothing to download: the package ships them (source says how)
        return (
            f"{spec.key}: weights {spec.checkpoint} are not in the installed {spec.package} "
            f"({spec.source}); reinstall it, or put the file in {put}"
        )
    return (
        f"{spec.key}: weights {spec.checkpoint} are not here and {spec.url} cannot be "
        f"reached; download it and put it in {cache}{put}"
    )


def require_weights(spec: ModelSpec, explicit: str | Path | None = None) -> WeightsStatus:
    """The status, or ModelUnavailableError (:func:`missing_message`) when they are missing."""
    status = weights_status(spec, explicit)
    if status.state.startswith("missing"):
        raise ModelUnavailableError(missing_message(spec))
    return status
