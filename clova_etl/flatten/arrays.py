"""Vectorised helpers over parsed Arrow arrays: unnesting lists with ordinals, geometry, grouping.

Nothing here loops over rows in Python; every function is a handful of Arrow/numpy kernels, so
the cost per field is a few nanoseconds whatever the page density.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from clova_etl.flatten.npa import from_numpy, repeat, validity, values
from clova_etl.schema import POLYGON

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def child(array: pa.Array, name: str) -> pa.Array:
    """Child ``name`` of a struct array, null wherever the parent is null."""
    return pc.struct_field(array, name)


@dataclass(frozen=True)
class Exploded:
    """One level of a list column unnested: its items, each item's parent row and position."""

    values: pa.Array
    parent: IntArray
    position: IntArray
    offsets: IntArray
    """``offsets[i]:offsets[i + 1]`` are the items of parent row ``i`` (length ``n + 1``)."""

    @property
    def lengths(self) -> IntArray:
        return np.diff(self.offsets)


def explode(lists: pa.Array) -> Exploded:
    """Unnest a list array; null lists have no items."""
    lengths = ints(pc.list_value_length(lists), 0)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    parent = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    position = np.arange(offsets[-1], dtype=np.int64) - offsets[:-1][parent]
    return Exploded(lists.flatten(), parent, position, offsets)


def floats(array: pa.Array) -> FloatArray:
    """A float64 array as numpy (read-only), nulls as NaN."""
    if array.null_count == 0:
        return values(array)
    return np.where(validity(array), values(array), np.nan)


def ints(array: pa.Array, null: int) -> IntArray:
    """An integer array as int64 numpy (read-only), nulls as ``null``."""
    if array.null_count == 0:
        return values(array).astype(np.int64, copy=False)
    return np.where(validity(array), values(array).astype(np.int64), null)


def bools(array: pa.Array) -> BoolArray:
    """A boolean array as numpy, nulls as False."""
    return values(array) & validity(array)


def valid(array: pa.Array) -> BoolArray:
    """Where ``array`` is not null."""
    return validity(array)


def nullable_floats(data: FloatArray) -> pa.Array:
    """float64 Arrow array with NaN as null."""
    return from_numpy(data, pa.float64(), ~np.isnan(data))


def segment_reduce(
    ufunc: np.ufunc, data: npt.NDArray[Any], offsets: IntArray, empty: float
) -> npt.NDArray[Any]:
    """Reduce each segment ``offsets[i]:offsets[i+1]`` of ``data``; else ``empty``."""
    n = len(offsets) - 1
    out = np.full(n, empty, dtype=data.dtype)
    nonempty = offsets[1:] > offsets[:-1]
    if nonempty.any():
        out[nonempty] = ufunc.reduceat(data, offsets[:-1][nonempty])
    return out


@dataclass(frozen=True)
class Geometry:
    """The five geometry columns of a table row set."""

    polygon: pa.Array
    x_min: FloatArray
    y_min: FloatArray
    x_max: FloatArray
    y_max: FloatArray

    def arrays(self) -> list[pa.Array]:
        return [
            self.polygon,
            *(nullable_floats(a) for a in (self.x_min, self.y_min, self.x_max, self.y_max)),
        ]

    def centres(self) -> tuple[FloatArray, FloatArray]:
        return (self.x_min + self.x_max) / 2, (self.y_min + self.y_max) / 2


def _min4(a: FloatArray) -> FloatArray:
    return np.fmin(np.fmin(a[:, 0], a[:, 1]), np.fmin(a[:, 2], a[:, 3]))


def _max4(a: FloatArray) -> FloatArray:
    return np.fmax(np.fmax(a[:, 0], a[:, 1]), np.fmax(a[:, 2], a[:, 3]))


def geometry(items: pa.Array, *, with_bounding: bool = False) -> Geometry:
    """Polygon (API vertex order) and axis-aligned box of ``boundingPoly`` (or V1 ``bounding``)."""
    n = len(items)
    vertices = child(child(items, "boundingPoly"), "vertices")
    has_poly = valid(vertices)
    rows = explode(vertices)
    xs = floats(child(rows.values, "x"))
    ys = floats(child(rows.values, "y"))
    counts = rows.lengths
    xy = np.empty(2 * len(xs), dtype=np.float64)
    xy[0::2] = xs
    xy[1::2] = ys

    box = np.full((4, n), np.nan, dtype=np.float64)
    if np.all((counts == 0) | (counts == 4)):
        # The usual case, quads only: no segment bookkeeping.
        quads = counts == 4
        qx, qy = xs.reshape(-1, 4), ys.reshape(-1, 4)
        box[:, quads] = (_min4(qx), _min4(qy), _max4(qx), _max4(qy))
    else:
        box[0] = segment_reduce(np.fmin, xs, rows.offsets, np.nan)
        box[1] = segment_reduce(np.fmin, ys, rows.offsets, np.nan)
        box[2] = segment_reduce(np.fmax, xs, rows.offsets, np.nan)
        box[3] = segment_reduce(np.fmax, ys, rows.offsets, np.nan)

    lengths = 2 * counts
    coords = xy
    present = has_poly
    if with_bounding:
        bounding = child(items, "bounding")
        has_box = valid(bounding) & ~has_poly
        if has_box.any():
            left, top = floats(child(bounding, "left")), floats(child(bounding, "top"))
            right = left + floats(child(bounding, "width"))
            bottom = top + floats(child(bounding, "height"))
            # V1 `bounding`: the four corners clockwise from top-left.
            corners = np.stack([left, top, right, top, right, bottom, left, bottom], axis=1)
            lengths = np.where(has_box, 8, lengths)
            coords = np.empty(int(lengths.sum()), dtype=np.float64)
            coords[np.repeat(has_poly, lengths)] = xy
            coords[np.repeat(has_box, lengths)] = corners[has_box].ravel()
            present = has_poly | has_box
            box[:, has_box] = (
                np.fmin(left, right)[has_box],
                np.fmin(top, bottom)[has_box],
                np.fmax(left, right)[has_box],
                np.fmax(top, bottom)[has_box],
            )
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    polygon = pa.ListArray.from_arrays(
        from_numpy(offsets, pa.int32()),
        nullable_floats(coords),
        type=POLYGON,
        mask=from_numpy(~present, pa.bool_()) if not present.all() else None,
    )
    return Geometry(polygon, box[0], box[1], box[2], box[3])


def repeat_value(value: str, n: int) -> pa.Array:
    """A string column holding ``value`` ``n`` times."""
    return repeat(value, n)


__all__ = [
    "Exploded",
    "Geometry",
    "bools",
    "child",
    "explode",
    "floats",
    "geometry",
    "ints",
    "nullable_floats",
    "repeat_value",
    "segment_reduce",
    "valid",
]
