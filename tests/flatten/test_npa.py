"""The buffer-level numpy ↔ Arrow helpers, on sliced arrays with nulls (bit offsets)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from clova_etl.flatten.npa import from_numpy, repeat, strings, validity, values

CASES = [
    (pa.float64(), [1.5, None, 3.0, 4.25, None, 6.0, 7.0, 8.0, 9.0, None]),
    (pa.int64(), [1, None, 3, 4, None, 6, 7, 8, 9, None]),
    (pa.int32(), [1, None, 3, 4, None, 6, 7, 8, 9, None]),
    (pa.bool_(), [True, None, False, True, None, True, False, True, True, None]),
]


@pytest.mark.parametrize(("type_", "items"), CASES)
@pytest.mark.parametrize(("start", "stop"), [(0, 10), (3, 10), (1, 6), (9, 10), (4, 4)])
def test_values_and_validity_of_slices(
    type_: pa.DataType, items: list[object], start: int, stop: int
) -> None:
    array = pa.array(items, type_).slice(start, stop - start)
    expected = items[start:stop]
    assert validity(array).tolist() == [x is not None for x in expected]
    got = values(array).tolist()
    assert [g for g, x in zip(got, expected, strict=True) if x is not None] == [
        x for x in expected if x is not None
    ]


@pytest.mark.parametrize(("type_", "items"), CASES)
def test_from_numpy_round_trip(type_: pa.DataType, items: list[object]) -> None:
    present = np.array([x is not None for x in items])
    data = np.array([x if x is not None else 0 for x in items])
    array = from_numpy(data, type_, present)
    array.validate(full=True)
    assert array.type == type_
    assert array.to_pylist() == items
    assert from_numpy(data, type_).null_count == 0


def test_all_null_and_empty() -> None:
    nulls = pa.nulls(5, pa.float64())
    assert validity(nulls).tolist() == [False] * 5
    assert len(values(pa.array([], pa.int32()))) == 0


def test_strings() -> None:
    items = ["가격", None, "", "abc", None]
    array = strings(items)
    array.validate(full=True)
    assert array.to_pylist() == items
    assert strings([]).to_pylist() == []
    assert repeat("1.0.0", 3).to_pylist() == ["1.0.0"] * 3
    assert repeat("x", 0).to_pylist() == []
