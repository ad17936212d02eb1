"""Bounded reads of the files bench is given: every cap, and the helpers that apply them.

A models file, ``pyproject.toml``, a records folder's parts, manifests and settings, and the
reference data may come from anyone. Each is read only when it is a regular file (a FIFO,
device or folder is refused before it is opened: nothing blocks), no larger than its cap;
compressed files are decompressed as a stream up to caps on the size and a line's length;
YAML goes through a safe loader without aliases. A refusal is one line naming the file and
the limit, as the caller's exception class (options, records, a material's reference).
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from bench.errors import ConfigurationError

KiB = 1024
MiB = 1024 * KiB

#: a models file (``--models-file``) or ``pyproject.toml`` (bytes): a few entries are 1 KiB
MODELS_FILE = 1 * MiB
#: a run manifest (``runs/<id>.json``) or ``settings.json`` of a records folder (bytes)
MANIFEST = 4 * MiB
#: a part file (``part-*.jsonl.gz``) as stored; today's largest is 0.2 MB
PART = 64 * MiB
#: a part file's decompressed size; today's largest is 1.1 MB
PART_DECOMPRESSED = 256 * MiB
#: one record (one line of a part); today's longest is 14 kB
RECORD_LINE = 4 * MiB
#: lines of a part (blank ones too); today's largest holds 3,953 records
PART_LINES = 1_000_000
#: a reference data file as stored (MDR yaml, MatCalc JSON, thermal properties, listing)
REFERENCE = 256 * MiB
#: a reference data file decompressed; today's largest MatCalc file is 7 MB, an MDR yaml 3 MB
REFERENCE_DECOMPRESSED = 512 * MiB
#: a model's kwargs (models file, ``--model-arg``) as JSON, as they go into every manifest
KWARGS = 64 * KiB
#: a model's name or description from a models file or plug-in (characters)
LABEL = 200

#: decompressors by file suffix (anything else is read as it is)
DECOMPRESSORS: dict[str, Callable[[IO[bytes]], IO[bytes]]] = {
    ".gz": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    ".xz": lambda raw: lzma.LZMAFile(raw, "rb"),  # noqa: SIM115 (the caller closes it)
    ".bz2": lambda raw: bz2.BZ2File(raw, "rb"),
}
DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError)


def size_text(n: float) -> str:
    """``n`` bytes as ``1 MiB``, ``46.0 MB``-style text (binary units)."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" or n == int(n) else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} GiB"  # not reached


def refuse(error: type[Exception], label: str, reason: str) -> Exception:
    return error(f"{label}: {reason}")  # the one line: the file and why it is not read


def open_regular(
    path: str | Path, cap: int, error: type[Exception] = ConfigurationError, label: str = ""
) -> IO[bytes]:
    """``path`` opened for reading in binary, when it is a regular file of at most ``cap``
    bytes; else ``error`` naming it (``label``, default the path) and the limit. The type is
    checked before the file is opened, and again on the open descriptor (opened non-blocking,
    so a FIFO swapped in between never blocks)."""
    label = label or str(path)
    try:
        info = os.stat(path)
    except OSError as err:
        raise refuse(error, label, err.strerror or str(err)) from err
    _check_regular(info, cap, error, label)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise refuse(error, label, err.strerror or str(err)) from err
    try:
        _check_regular(os.fstat(fd), cap, error, label)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _check_regular(info: os.stat_result, cap: int, error: type[Exception], label: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise refuse(error, label, "a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise refuse(error, label, "not a regular file (a FIFO, device or socket); not read")
    if info.st_size > cap:
        raise refuse(
            error, label, f"{size_text(info.st_size)}, over the {size_text(cap)} limit; not read"
        )


def read_bytes(
    path: str | Path, cap: int, error: type[Exception] = ConfigurationError, label: str = ""
) -> bytes:
    """The bytes of a regular file of at most ``cap`` bytes (:func:`open_regular`)."""
    label = label or str(path)
    with open_regular(path, cap, error, label) as handle:
        try:
            data = handle.read(cap + 1)
        except OSError as err:
            raise refuse(error, label, err.strerror or str(err)) from err
    if len(data) > cap:  # grew since the check
        raise refuse(error, label, f"over the {size_text(cap)} limit; not read")
    return data


def read_text(
    path: str | Path, cap: int, error: type[Exception] = ConfigurationError, label: str = ""
) -> str:
    """The UTF-8 text of a regular file of at most ``cap`` bytes."""
    label = label or str(path)
    try:
        return read_bytes(path, cap, error, label).decode("utf-8")
    except UnicodeDecodeError as err:
        raise refuse(error, label, f"not UTF-8 text ({err.reason} at byte {err.start})") from err


def read_decompressed(
    path: str | Path,
    cap: int,
    decompressed: int,
    error: type[Exception] = ConfigurationError,
    label: str = "",
) -> bytes:
    """The content of a regular file of at most ``cap`` bytes, decompressed as a stream when
    its name ends in .gz, .xz or .bz2, of at most ``decompressed`` bytes (a gzip bomb stops at
    the cap: memory stays under it)."""
    label = label or str(path)
    opener = DECOMPRESSORS.get(Path(path).suffix)
    if opener is None:
        return read_bytes(path, cap, error, label)
    chunks, total = [], 0
    with open_regular(path, cap, error, label) as raw:
        try:
            with opener(raw) as handle:
                while total <= decompressed and (chunk := handle.read(MiB)):
                    total += len(chunk)
                    chunks.append(chunk)
        except DECOMPRESS_ERRORS as err:
            raise refuse(error, label, f"not a complete {Path(path).suffix} file ({err})") from err
    if total > decompressed:
        raise refuse(error, label, f"decompresses to over the {size_text(decompressed)} limit")
    return b"".join(chunks)


def gzip_lines(
    path: str | Path,
    cap: int = PART,
    decompressed: int = PART_DECOMPRESSED,
    line_cap: int = RECORD_LINE,
    error: type[Exception] = ConfigurationError,
    label: str = "",
) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of a gzip file read as a stream: a regular file of at most ``cap``
    bytes, at most ``decompressed`` bytes and :data:`PART_LINES` lines decompressed, no line
    over ``line_cap`` bytes."""
    label = label or str(path)
    total = 0
    with open_regular(path, cap, error, label) as raw, gzip.GzipFile(fileobj=raw) as handle:
        number = 0
        while True:
            try:
                line = handle.readline(line_cap + 1)
            except DECOMPRESS_ERRORS as err:
                raise refuse(error, label, f"not a complete gzip file ({err})") from err
            if not line:
                return
            number += 1
            total += len(line)
            if number > PART_LINES:
                raise refuse(error, label, f"over the {PART_LINES:,}-line limit")
            if len(line) > line_cap:
                raise refuse(
                    error, label, f"line {number} is over the {size_text(line_cap)} line limit"
                )
            if total > decompressed:
                raise refuse(
                    error, label, f"decompresses to over the {size_text(decompressed)} limit"
                )
            yield number, line


def load_json(data: bytes | str, error: type[Exception], label: str) -> Any:
    """JSON from ``data`` (already bounded); ``error`` naming ``label`` when it is not JSON or
    nests too deeply for the parser."""
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise refuse(error, label, f"not JSON ({err})") from err
    except RecursionError as err:
        raise refuse(error, label, "JSON nested too deeply") from err


def read_json(
    path: str | Path, cap: int, error: type[Exception] = ConfigurationError, label: str = ""
) -> Any:
    """The JSON value of a regular file of at most ``cap`` bytes."""
    label = label or str(path)
    return load_json(read_bytes(path, cap, error, label), error, label)


class _NoAliases:
    """Constructs each YAML node once: a node met again is an alias (``*name``), refused, so a
    document's size is what its text says (no "billion laughs")."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects:  # type: ignore[attr-defined]
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases (*name) are not accepted", node.start_mark
            )
        return super().construct_object(node, deep)  # type: ignore[misc]


class SafeLoader(_NoAliases, yaml.SafeLoader):
    """PyYAML's safe loader (plain data only, no ``!!python`` tags), without aliases."""


class FastSafeLoader(_NoAliases, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same in C (LibYAML), for large reference files."""


def load_yaml(
    text: str | bytes,
    error: type[Exception] = ConfigurationError,
    label: str = "",
    loader: type = SafeLoader,
) -> Any:
    """The YAML value of ``text`` (already bounded) through a safe loader without aliases;
    ``error`` naming ``label`` when it is not YAML, uses an alias or nests too deeply."""
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as err:
        raise refuse(error, label, yaml_problem(err)) from err
    except RecursionError as err:
        raise refuse(error, label, "YAML nested too deeply") from err


def yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong, and where."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return f"not YAML bench reads: {err.problem or err.context}{where}"
    return f"not YAML bench reads: {err}".replace("\n", " ")


def check_json_size(value: Any, cap: int, error: type[Exception], label: str) -> None:
    """``error`` naming ``label`` when ``value`` as JSON is over ``cap`` bytes (or is not JSON:
    it goes into a manifest)."""
    try:
        size = len(json.dumps(value, default=str))
    except (TypeError, ValueError, RecursionError) as err:
        raise refuse(error, label, f"cannot be written as JSON ({err})") from err
    if size > cap:
        raise refuse(error, label, f"{size_text(size)} as JSON, over the {size_text(cap)} limit")


def yaml_value(text: str, label: str) -> Any:
    """A command-line value read as YAML (``3``, ``0.5``, ``[1, 2]``), else the text as it is;
    ConfigurationError naming ``label`` for an alias, a ``!!python`` tag or deep nesting."""
    try:
        return yaml.load(text, Loader=SafeLoader) if text.strip() else ""
    except yaml.constructor.ConstructorError as err:
        raise ConfigurationError(f"{label}: {yaml_problem(err)}") from err
    except yaml.YAMLError:  # not YAML: the text
        return text
    except RecursionError as err:
        raise ConfigurationError(f"{label}: YAML nested too deeply") from err


def check_entry_size(name: str, entry: dict[str, Any], origin: str) -> None:
    """ConfigurationError when a models-file entry's name, text fields or kwargs are over
    their limits (:data:`LABEL`, five times that, :data:`KWARGS`): they go into manifests."""
    if len(name) > LABEL:
        raise ConfigurationError(f"{origin}: a model name of {len(name)} characters, over {LABEL}")
    for field in ("import", "checkpoint", "dtype", "device", "python", "description"):
        if entry.get(field) is not None and len(str(entry[field])) > LABEL * 5:
            raise ConfigurationError(
                f"{origin}: model {name[:LABEL]!r}: {field} over {LABEL * 5} characters"
            )
    where = f"{origin}: kwargs of {name!r}"
    check_json_size(entry.get("kwargs", {}), KWARGS, ConfigurationError, where)
