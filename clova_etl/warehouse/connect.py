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
    lock_wait_seconds: float | None = None,
) -> Warehouse:
    """Open the warehouse at ``uri`` (``duckdb:///file.duckdb`` or ``postgresql://…``).

    ``lock_wait_seconds`` (DuckDB): how long to wait for another process holding the file
    (default 900).
    """
    parsed = uri if isinstance(uri, WarehouseURI) else parse_warehouse_uri(uri)
    if parsed.dialect == "duckdb":
        from clova_etl.warehouse.duckdb import DEFAULT_LOCK_WAIT_SECONDS, DuckDBWarehouse

        wait = DEFAULT_LOCK_WAIT_SECONDS if lock_wait_seconds is None else lock_wait_seconds
        return DuckDBWarehouse(
            parsed, schema=schema, check_config=check_config, lock_wait_seconds=wait
        )
    from clova_etl.warehouse.postgres import PostgresWarehouse

    return PostgresWarehouse(parsed, schema=schema, check_config=check_config)


__all__ = ["connect"]
