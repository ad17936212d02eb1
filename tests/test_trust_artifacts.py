"""A kept artifact (``.npz``) may be anyone's: whatever is wrong inside it, reading it is a
ValueError naming the file (``bench.run.artifacts.load_artifact``), never another exception
(zlib's, zipfile's, numpy's) and never an allocation its declared shape asks for."""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bench.run.artifacts import load_artifact


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez_compressed(path, **(arrays or {"force_constants": np.arange(600.0).reshape(20, 30)}))
    return path


def _rezip(path: Path, edit) -> Path:
    """``path`` rewritten with each member's (info, bytes) passed through ``edit``."""
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            info, data = edit(info, data)
            archive.writestr(info, data)
    path.write_bytes(buffer.getvalue())
    return path


def _header(shape: tuple, descr: str = "<f8") -> bytes:
    """An .npy 1.0 file's header declaring ``shape`` of ``descr``, with 16 bytes of data."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    text += " " * (63 - (len(text) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode() + bytes(16)


def _patch_central(path: Path, offset: int, value: bytes) -> Path:
    """``value`` written at ``offset`` into every local and central header of ``path``."""
    data = bytearray(path.read_bytes())
    for signature, at in ((b"PK\x03\x04", offset), (b"PK\x01\x02", offset + 2)):
        start = data.find(signature)
        while start >= 0:
            data[start + at : start + at + len(value)] = value
            start = data.find(signature, start + 4)
    path.write_bytes(bytes(data))
    return path


def _refused(path: Path, says: str = "") -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: .*{says}") as caught:
        load_artifact(path)
    assert type(caught.value) is ValueError, repr(caught.value)


def test_a_damaged_deflate_stream_an_unknown_method_and_encryption_are_refused(tmp_path):
    deflate = _npz(tmp_path / "deflate.npz")
    data = bytearray(deflate.read_bytes())
    start = data.find(b"PK\x03\x04") + 30 + len("force_constants.npy")
    data[start : start + 40] = bytes(range(200, 240))  # inside the compressed stream
    deflate.write_bytes(bytes(data))
    _refused(deflate, "not a readable .npz file")
    _refused(_patch_central(_npz(tmp_path / "method.npz"), 8, b"\x63\x00"), "NotImplemented")
    _refused(_patch_central(_npz(tmp_path / "crypt.npz"), 6, b"\x01\x00"), "encrypted")


@pytest.mark.parametrize(
    ("shape", "descr"),
    [((10**15,), "<f8"), ((10**6, 10**6), "<f8"), ((2**32, 2**32), "<u1"), ((3,), "<f8")],
)
def test_an_array_declared_larger_than_its_member_is_refused_before_it_is_allocated(
    tmp_path, shape, descr
):
    """A header may declare any shape (or one whose size overflows int64): it is refused
    when it asks for more bytes than the member holds, before numpy allocates them."""
    path = _rezip(_npz(tmp_path / "huge.npz"), lambda info, data: (info, _header(shape, descr)))
    _refused(path, "declares an array of .* in 16 bytes; not read")


def test_any_damage_to_an_npz_is_a_value_error_naming_it(tmp_path):
    """Each byte changed, and each truncation, of a real file: it loads or is refused."""
    good = _npz(tmp_path / "fc.npz").read_bytes()
    rng = random.Random(34)
    path = tmp_path / "bad.npz"
    for n in range(400):
        data = bytearray(good)
        if n % 4 == 0:
            data = data[: rng.randrange(len(good))]
        else:
            for _ in range(1 + n % 3):
                data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        try:
            arrays = load_artifact(path)
        except ValueError as err:
            assert type(err) is ValueError and str(err).startswith(f"{path}: "), repr(err)
        else:
            assert all(isinstance(v, np.ndarray | bytes) for v in arrays.values())


def test_a_member_that_is_no_array_or_an_object_array_is_named(tmp_path):
    path = _rezip(_npz(tmp_path / "obj.npz"), lambda info, data: (info, _header((1,), "|O")))
    _refused(path, "Object arrays")
    assert load_artifact(_npz(tmp_path / "ok.npz"))["force_constants"].shape == (20, 30)
