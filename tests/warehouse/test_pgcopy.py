"""The Arrow → binary COPY encoder against the real server: every declared type, nulls, slices."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from clova_etl.warehouse.pgcopy import HEADER, TRAILER, copy_stream, encode_batch

COLUMNS = {
    "s": "text",
    "i": "integer",
    "l": "bigint",
    "f": "double precision",
    "b": "boolean",
    "ts": "timestamptz",
    "p": "double precision[]",
}


def table() -> pa.Table:
    return pa.table(
        {
            "s": pa.array(["a", None, "héllo 한글", "", "x" * 70_000, "tab\there"], pa.string()),
            "i": pa.array([1, None, -3, 2**31 - 1, 0, -(2**31)], pa.int32()),
            "l": pa.array([1, 2, None, -(2**63), 5, 2**63 - 1], pa.int64()),
            "f": pa.array([1.5, math.nan, None, -0.0, 1e300, math.inf]),
            "b": pa.array([True, False, None, True, False, True]),
            "ts": pa.array(
                [
                    datetime(2025, 1, 1, 12, 30, tzinfo=UTC),
                    None,
                    datetime(1970, 1, 1, tzinfo=UTC),
                    datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
                    datetime(2100, 1, 1, tzinfo=UTC),
                    datetime(1900, 6, 1, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "p": pa.array(
                [[1.0, 2.0], None, [], [None, 3.0], [0.5] * 8, [1.0, 2.0, 3.0, 4.0]],
                pa.list_(pa.float64()),
            ),
        }
    )


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def roundtrip(uri: str, data: pa.Table) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(uri) as con:
        spec = ", ".join(f"{name} {COLUMNS[name]}" for name in data.column_names)
        con.execute(f"CREATE TEMP TABLE rt ({spec})")
        with con.cursor().copy(
            f"COPY rt ({', '.join(data.column_names)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            for chunk in copy_stream(data.to_batches(max_chunksize=4)):
                copy.write(chunk)
        return [tuple(_plain(v) for v in row) for row in con.execute("SELECT * FROM rt")]


def expected(data: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(_plain(v) for v in row.values()) for row in data.to_pylist()]


@pytest.mark.postgres
def test_every_type_and_null_round_trips(postgres_uri: str) -> None:
    data = table()
    assert roundtrip(postgres_uri, data) == expected(data)


@pytest.mark.postgres
def test_slices_and_chunks_round_trip(postgres_uri: str) -> None:
    data = pa.concat_tables([table().slice(1, 4), table().slice(3)])
    assert roundtrip(postgres_uri, data) == expected(data)


@pytest.mark.postgres
def test_dictionary_and_large_strings_round_trip(postgres_uri: str) -> None:
    data = pa.table(
        {
            "s": pa.array(["x", None, "x", "y"]).dictionary_encode(),
            "i": pa.array([1, 2, 3, 4], pa.int32()),
        }
    )
    assert roundtrip(postgres_uri, data) == [("x", 1), (None, 2), ("x", 3), ("y", 4)]
    large = pa.table({"s": pa.array(["a", None], pa.large_string())})
    assert roundtrip(postgres_uri, large) == [("a",), (None,)]


@pytest.mark.postgres
def test_polygons_of_one_size_take_the_packed_path(postgres_uri: str) -> None:
    polygons = pa.array([[float(i)] * 8 for i in range(1000)] + [None], pa.list_(pa.float64()))
    data = pa.table({"p": polygons})
    assert roundtrip(postgres_uri, data) == expected(data)


def test_stream_framing() -> None:
    assert HEADER.startswith(b"PGCOPY\n\xff\r\n\x00") and len(HEADER) == 19
    assert TRAILER == b"\xff\xff"
    assert encode_batch(pa.table({"i": pa.array([], pa.int32())})).nbytes == 0
    row = bytes(encode_batch(pa.table({"i": pa.array([7], pa.int32())})))
    assert row == b"\x00\x01" + b"\x00\x00\x00\x04" + b"\x00\x00\x00\x07"
    with pytest.raises(TypeError, match="no binary COPY encoding"):
        encode_batch(pa.table({"d": pa.array([1.5], pa.float32())}))


def test_prefetch_yields_in_order_and_hands_errors_over() -> None:
    from clova_etl.warehouse.postgres import prefetch

    assert list(prefetch(iter(range(100)), depth=2)) == list(range(100))

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("unreadable batch")

    got: list[int] = []
    with pytest.raises(ValueError, match="unreadable batch"):
        for item in prefetch(failing(), depth=2):
            got.append(item)
    assert got == [1]


def test_prefetch_stops_its_producer_when_the_consumer_stops() -> None:
    import threading

    from clova_etl.warehouse.postgres import prefetch

    produced: list[int] = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    for item in prefetch(endless(), depth=2):
        if item == 3:
            break
    assert len(produced) <= 3 + 2 + 2
    assert not [t for t in threading.enumerate() if t.name == "clova-etl-copy-encoder"]
