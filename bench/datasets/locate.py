"""Where reference files live: --data-dir, $BENCH_DATA, the user cache (filled from upstream),
then the package's embedded copy of the smoke subsets (``bench/_data``).

A file with a known sha256 is verified once per process (hashes are cached by path, size and
mtime). A download goes to a temporary file beside its destination, is verified, then renamed
into place, so an interrupted or corrupt download never leaves a file behind.
``$BENCH_OFFLINE=1`` forbids every network access.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from bench.bounded_binary import sha256_file
from bench.errors import ConfigurationError

ENV_VAR = "BENCH_DATA"
OFFLINE_VAR = "BENCH_OFFLINE"
TIMEOUT_S = 60


class DataNotFoundError(ConfigurationError, FileNotFoundError):
    """A reference file is neither on disk nor downloadable (offline, unreachable)."""


class DataChecksumError(ConfigurationError, ValueError):
    """A reference file does not have the sha256 its data set definition records."""


def cache_dir() -> Path:
    """The user cache for downloaded reference data (``${XDG_CACHE_HOME:-~/.cache}/bench/data``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bench" / "data"


def embedded_dir() -> Path:
    """The package's copy of the smoke subsets' reference files (CC BY 4.0, see its
    LICENSE.md; datasets/build_embedded.py makes it)."""
    return Path(__file__).resolve().parents[1] / "_data"


def search_dirs(explicit: Path | None = None) -> list[Path]:
    """Data directories in lookup order: explicit ``--data-dir``, ``$BENCH_DATA``, the cache,
    the embedded files. A file found in the embedded folder has the upstream bytes (its sha256
    is checked as anywhere), so it is read before a download of the same file is tried."""
    dirs = []
    if explicit is not None:
        dirs.append(Path(explicit).expanduser())
    if os.environ.get(ENV_VAR):
        dirs.append(Path(os.environ[ENV_VAR]).expanduser())
    dirs += [cache_dir(), embedded_dir()]
    return list(dict.fromkeys(dirs))


def find_data_dir(explicit: Path | None = None) -> Path | None:
    """The first existing data directory (explicit, ``$BENCH_DATA``, the cache, the embedded
    files), or None."""
    return next((d for d in search_dirs(explicit) if d.is_dir()), None)


def online() -> bool:
    """False when ``$BENCH_OFFLINE`` is set to anything but ``0``/empty."""
    return os.environ.get(OFFLINE_VAR, "") in ("", "0")


_HASHES: dict[tuple[str, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """sha256 (hex) of a file, computed once per process for a given path, size and mtime."""
    stat = path.stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = sha256_file(path, DataNotFoundError, f"reference data {path}")
    return _HASHES[key]


def verify(path: Path, sha256: str | None) -> Path:
    """``path`` if its sha256 is ``sha256`` (or nothing is recorded), else DataChecksumError."""
    if sha256 and sha256_of(path) != sha256:
        raise DataChecksumError(
            f"{path}: sha256 {sha256_of(path)} does not match the recorded {sha256}; "
            "the file is corrupt or a different version: delete it to download it again"
        )
    return path


def _download(url: str, dest: Path) -> None:
    """Fetch ``url`` to ``dest`` (temporary file + rename). Raises OSError when unreachable."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, suffix=".part") as tmp:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                shutil.copyfileobj(response, tmp)
        except BaseException:
            tmp.close()
            Path(tmp.name).unlink(missing_ok=True)
            raise
    os.replace(tmp.name, dest)


def download_verified(urls: list[str], dest: Path, sha256: str | None) -> Path | None:
    """Download the first reachable URL to ``dest``, verified before it is renamed into place.

    Returns None (and leaves nothing behind) when offline or no URL is reachable; a download
    with the wrong sha256 raises DataChecksumError.
    """
    if not online():
        return None
    part = dest.with_name(f"{dest.name}.{os.getpid()}.download")
    for url in urls:
        try:
            _download(url, part)
        except OSError:
            part.unlink(missing_ok=True)
            continue
        try:
            verify(part, sha256)
        except DataChecksumError as err:
            part.unlink(missing_ok=True)
            raise DataChecksumError(f"download from {url}: {err}") from None
        os.replace(part, dest)
        return dest
    return None


def fetch_file(
    relpath: str, urls: list[str], sha256: str | None, data_dir: Path | None = None
) -> Path:
    """Local path of ``relpath`` in the data directories, else downloaded into the cache.

    Raises DataChecksumError when a local file has the wrong sha256, and DataNotFoundError
    naming the file, the directories searched and the upstream URL when it is missing and
    cannot be downloaded.
    """
    dirs = search_dirs(data_dir)
    for directory in dirs:
        candidate = directory / relpath
        if candidate.is_file():
            return verify(candidate, sha256)
    if urls and download_verified(urls, cache_dir() / relpath, sha256) is not None:
        return cache_dir() / relpath
    if not urls:
        reason = "no upstream URL is known for it"
    elif not online():
        reason = f"${OFFLINE_VAR} is set"
    else:
        reason = "the download failed (offline or unreachable)"
    raise DataNotFoundError(
        f"reference file {relpath} not found in {', '.join(str(d) for d in dirs)}; {reason}. "
        f"Get it from {urls[0] if urls else 'its source (datasets/README.md)'} and put it at "
        f"<data dir>/{relpath} (--data-dir or ${ENV_VAR})"
    )
