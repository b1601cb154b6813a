"""``clova_etl.read``: every table and view as a DataFrame, filtered, on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

import clova_etl
from clova_etl.frames import RELATIONS
from clova_etl.schema import TABLES
from tests.fixtures.analyst import AnalystWarehouse, load_into_postgres


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, analyst_warehouse: AnalystWarehouse) -> tuple[str, str]:
    """(warehouse URI, schema) holding the analyst warehouse's rows."""
    if request.param == "duckdb":
        return analyst_warehouse.uri, "ocr"
    uri = request.getfixturevalue("postgres_uri")
    schema = request.getfixturevalue("pg_schema")("ocr_read_")
    load_into_postgres(analyst_warehouse, uri, schema)
    return uri, schema


def test_every_table_and_view_as_a_dataframe(
    target: tuple[str, str], analyst_warehouse: AnalystWarehouse
) -> None:
    uri, schema = target
    for name in RELATIONS:
        frame = clova_etl.read(name, warehouse=uri, schema=schema)
        if name in TABLES:
            (count,) = analyst_warehouse.query(f"SELECT count(*) FROM ocr.{name}")[0]
            assert len(frame) == count, name
            assert list(frame.columns) == TABLES[name].column_names
    fields = clova_etl.read("ocr_fields", warehouse=uri, schema=schema, as_arrow=True)
    assert isinstance(fields, pa.Table)
    assert fields.schema.field("infer_confidence").type == pa.float64()
    assert fields.schema.field("polygon").type == pa.list_(pa.float64())


def test_filters(target: tuple[str, str], analyst_warehouse: AnalystWarehouse) -> None:
    uri, schema = target
    invoice = clova_etl.read(
        "ocr_table_cells", warehouse=uri, schema=schema, source_uri_like="%/invoice-table.png"
    )
    assert len(invoice) == 21 and sorted(invoice["cell_index"]) == list(range(21))
    pages = clova_etl.read(
        "page_text", warehouse=uri, schema=schema, source_uri_like="%fax-2p%", since="2000-01-01"
    )
    assert sorted(pages["source_page"]) == [1, 2]
    later = datetime.now(UTC) + timedelta(days=1)
    for name in ("ocr_fields", "ocr_requests", "etl_loads", "template_fields"):
        assert clova_etl.read(name, warehouse=uri, schema=schema, since=later).empty, name
        assert not clova_etl.read(name, warehouse=uri, schema=schema, until=later).empty, name
    run = clova_etl.read(
        "ocr_images", warehouse=uri, schema=schema, run_id=analyst_warehouse.run_id, limit=2
    )
    assert len(run) == 2
    assert clova_etl.read("ocr_images", warehouse=uri, schema=schema, run_id="nope").empty
    some = clova_etl.read(
        "ocr_fields", warehouse=uri, schema=schema, columns=["request_id", "infer_text"], limit=3
    )
    assert list(some.columns) == ["request_id", "infer_text"] and len(some) == 3
    # A pattern is a value, never SQL.
    evil = clova_etl.read(
        "ocr_requests", warehouse=uri, schema=schema, source_uri_like="x' OR '1'='1"
    )
    assert evil.empty


def test_mistakes_are_explained(analyst_warehouse: AnalystWarehouse, monkeypatch: Any) -> None:
    with pytest.raises(ValueError, match="unknown table or view 'ocr_field'; one of: ocr_requests"):
        clova_etl.read("ocr_field", warehouse=analyst_warehouse.uri)
    with pytest.raises(ValueError, match="has no column"):
        clova_etl.read("ocr_fields", warehouse=analyst_warehouse.uri, columns=["nope"])
    with pytest.raises(ValueError, match="not an ISO date"):
        clova_etl.read("ocr_fields", warehouse=analyst_warehouse.uri, since="yesterday")
    with pytest.raises(ValueError, match="cannot be filtered"):
        clova_etl.read("etl_check_results", warehouse=analyst_warehouse.uri, run_id="x")
    monkeypatch.setenv("CLOVA_ETL_WAREHOUSE_URI", analyst_warehouse.uri)
    assert len(clova_etl.read("etl_objects")) == 6
