"""numpy ↔ Arrow through raw buffers.

``pa.array(...)``, ``Array.to_numpy()`` and Python scalars given to compute functions make
pyarrow import pandas on first use (about 0.4 s, and the memory that goes with it); flatten
needs none of it. These helpers read and build primitive arrays from their buffers instead:
zero-copy where Arrow allows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

BoolArray = npt.NDArray[np.bool_]


def _bits(buffer: pa.Buffer, offset: int, length: int) -> BoolArray:
    raw = np.frombuffer(buffer, dtype=np.uint8)
    bits = np.unpackbits(raw, bitorder="little", count=offset + length)
    return bits[offset:].view(np.bool_)


def validity(array: pa.Array) -> BoolArray:
    """Where ``array`` is not null."""
    if array.null_count == 0:
        return np.ones(len(array), dtype=np.bool_)
    if array.null_count == len(array):
        return np.zeros(len(array), dtype=np.bool_)
    return _bits(array.buffers()[0], array.offset, len(array))


def values(array: pa.Array) -> npt.NDArray[Any]:
    """The values buffer of a primitive array as numpy (whatever sits under nulls)."""
    t = array.type
    if len(array) == 0:
        return np.zeros(0, dtype=np.bool_ if pa.types.is_boolean(t) else t.to_pandas_dtype())
    buffer = array.buffers()[1]
    if buffer is None:  # an all-null array may have no values
        return np.zeros(len(array), dtype=np.bool_ if pa.types.is_boolean(t) else np.int64)
    if pa.types.is_boolean(t):
        return _bits(buffer, array.offset, len(array))
    dtype = np.dtype(t.to_pandas_dtype()) if not pa.types.is_timestamp(t) else np.dtype(np.int64)
    return np.frombuffer(buffer, dtype=dtype, count=array.offset + len(array))[array.offset :]


def from_numpy(data: npt.ArrayLike, type_: pa.DataType, valid: BoolArray | None = None) -> pa.Array:
    """A primitive Arrow array over ``data`` (booleans are packed), null where not ``valid``."""
    if pa.types.is_boolean(type_):
        flags = np.asarray(data, dtype=np.bool_)
        n = len(flags)
        body = pa.py_buffer(np.packbits(flags, bitorder="little"))
    else:
        dtype = np.int64 if pa.types.is_timestamp(type_) else type_.to_pandas_dtype()
        array = np.ascontiguousarray(data, dtype=dtype)
        n = len(array)
        body = pa.py_buffer(array)
    if valid is None or bool(valid.all()):
        return pa.Array.from_buffers(type_, n, [None, body], null_count=0)
    mask = pa.py_buffer(np.packbits(np.asarray(valid, dtype=np.bool_), bitorder="little"))
    return pa.Array.from_buffers(type_, n, [mask, body], null_count=int(n - valid.sum()))


def strings(items: Sequence[str | None]) -> pa.Array:
    """A string array from Python strings (None is null)."""
    encoded = [b"" if s is None else s.encode() for s in items]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    present = np.fromiter((s is not None for s in items), dtype=np.bool_, count=len(encoded))
    mask = None if present.all() else pa.py_buffer(np.packbits(present, bitorder="little"))
    return pa.Array.from_buffers(
        pa.string(),
        len(encoded),
        [mask, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
        null_count=int(len(encoded) - present.sum()),
    )


def string_scalar(value: str) -> pa.Scalar:
    """A string scalar, for compute functions."""
    return strings([value])[0]


def repeat(value: str, n: int) -> pa.Array:
    """A string column holding ``value`` ``n`` times."""
    return strings([value]).take(from_numpy(np.zeros(n, dtype=np.int64), pa.int64()))


__all__ = ["from_numpy", "repeat", "string_scalar", "strings", "validity", "values"]
