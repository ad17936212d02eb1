"""Where reference files live: --data-dir, $BENCH_DATA, the user cache (filled from upstream).

Every file with a known sha256 is verified once per process; a download goes to a temporary
file, is verified, then renamed into the cache, so a killed download never leaves a bad file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from bench.errors import ConfigurationError

ENV_VAR = "BENCH_DATA"
TIMEOUT_S = 60


class DataNotFoundError(ConfigurationError, FileNotFoundError):
    """A reference file is neither on disk nor downloadable (offline)."""


class DataChecksumError(ConfigurationError, ValueError):
    """A reference file does not have the sha256 its data set definition records."""


def cache_dir() -> Path:
    """The user cache for downloaded reference data (``$XDG_CACHE_HOME/bench/data``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bench" / "data"


def search_dirs(explicit: Path | None = None) -> list[Path]:
    """Data directories in lookup order: explicit, ``$BENCH_DATA``, the cache."""
    dirs = []
    if explicit is not None:
        dirs.append(Path(explicit).expanduser())
    if os.environ.get(ENV_VAR):
        dirs.append(Path(os.environ[ENV_VAR]).expanduser())
    dirs.append(cache_dir())
    return dirs


def find_data_dir(explicit: Path | None = None) -> Path | None:
    """The first existing data directory, or None."""
    return next((d for d in search_dirs(explicit) if d.is_dir()), None)


_VERIFIED: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """sha256 (hex) of a file, cached per process by path, size and mtime."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _VERIFIED[key] = digest.hexdigest()
    return _VERIFIED[key]


def _verify(path: Path, sha256: str | None) -> Path:
    if sha256 and sha256_of(path) != sha256:
        raise DataChecksumError(
            f"{path}: sha256 {sha256_of(path)} does not match the recorded {sha256}; "
            "delete the file to download it again"
        )
    return path


def _download(url: str, dest: Path) -> None:
    """Fetch ``url`` to ``dest`` (atomic rename). Raises OSError when unreachable."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, suffix=".part") as tmp:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                shutil.copyfileobj(response, tmp)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    os.replace(tmp.name, dest)


def fetch(relpath: str, url: str | None, sha256: str | None, data_dir: Path | None = None) -> Path:
    """Local path of a reference file, downloading it into the cache when absent.

    Raises :class:`DataNotFoundError` naming the file, the directories searched and the
    upstream URL when the file is missing and cannot be downloaded.
    """
    dirs = search_dirs(data_dir)
    for directory in dirs:
        candidate = directory / relpath
        if candidate.is_file():
            return _verify(candidate, sha256)
    dest = cache_dir() / relpath
    reason = "no upstream URL is known"
    if url:
        try:
            _download(url, dest)
        except OSError as err:
            reason = f"download failed ({err})"
        else:
            try:
                return _verify(dest, sha256)
            except DataChecksumError:
                dest.unlink(missing_ok=True)
                raise
    searched = ", ".join(str(d) for d in dirs)
    raise DataNotFoundError(
        f"reference file {relpath} not found in {searched}; {reason}. "
        f"Get it from {url or 'its upstream source (datasets/README.md)'} and put it at "
        f"<data dir>/{relpath} (--data-dir or ${ENV_VAR})"
    )
