"""``connect(uri)``: the warehouse a URI names."""

from __future__ import annotations

from clova_etl.warehouse.checks import CheckConfig
from clova_etl.warehouse.loader import Warehouse
from clova_etl.warehouse.uri import DEFAULT_SCHEMA, WarehouseURI, parse_warehouse_uri


def connect(
    uri: str | WarehouseURI,
    *,
    schema: str = DEFAULT_SCHEMA,
    check_config: CheckConfig | None = None,
) -> Warehouse:
    """Open the warehouse at ``uri`` (``duckdb:///f.duckdb``, ``postgresql://…``, ``iceberg…``)."""
    parsed = uri if isinstance(uri, WarehouseURI) else parse_warehouse_uri(uri)
    if parsed.dialect == "iceberg":
        from clova_etl.warehouse.iceberg import IcebergWarehouse

        return IcebergWarehouse(parsed, schema=schema, check_config=check_config)
    if parsed.dialect == "duckdb":
        from clova_etl.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(parsed, schema=schema, check_config=check_config)
    from clova_etl.warehouse.postgres import PostgresWarehouse

    return PostgresWarehouse(parsed, schema=schema, check_config=check_config)


__all__ = ["connect"]
