"""Names that become files, and paths read from records: untrusted text made safe.

A model label, task, data set, settings digest or material id comes from records and data
files that may come from anyone (a pull request's part file, a downloaded data folder). Every
one that becomes a file or folder name passes :func:`safe_name`; every path a record names is
resolved with :func:`inside` before anything opens or copies it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath

#: characters a name keeps; everything else (``/``, ``\\``, quotes, markup, spaces, control
#: characters) becomes ``_``
_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")
MAX_NAME = 120


def safe_name(text: object) -> str:
    """``text`` as one file-name component: letters, digits and ``@._+-`` only, not starting
    with a dot (so never ``.`` or ``..``), at most :data:`MAX_NAME` characters. A name that had
    to change gets ``-<sha256[:8]>`` of the original, so two labels never share a file."""
    text = str(text)
    name = _UNSAFE.sub("_", text)[:MAX_NAME]
    if not name or name.startswith("."):
        name = "_" + name
    if name != text:
        name += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return name


def inside(root: str | Path, rel: object, under: str = "") -> Path | None:
    """``root / rel`` when ``rel`` is a relative path (a string, no ``..``) that resolves,
    symbolic links followed, to a place inside ``root / under``; None otherwise (an absolute
    path, ``../``, a link out of the folder, not a string)."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\0" in rel:
        return None
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts:
        return None
    if under and pure.parts[:1] != (under,):
        return None
    base = (Path(root) / under).resolve()
    path = (Path(root) / pure).resolve()
    return path if path.is_relative_to(base) and path != base else None
