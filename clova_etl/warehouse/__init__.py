"""Warehouse layer: DDL, idempotent loads of Parquet batches by request_id, checks, audit.

    with connect("duckdb:///warehouse.duckdb") as wh:
        result = wh.load("silver/run-42", run_id="run-42")
        print(result.rows, [c.summary() for c in result.warnings])

Destinations: DuckDB (:mod:`.duckdb`) and PostgreSQL (:mod:`.postgres`); everything else is
shared. The SQL files in the repository's ``sql/`` folder are generated from these modules
(:mod:`.sqlfiles`).
"""

from __future__ import annotations

from clova_etl.warehouse.batch import ParquetBatch, TableFiles, scan_batch
from clova_etl.warehouse.checks import (
    CHECKS,
    Check,
    CheckConfig,
    CheckContext,
    CheckResult,
)
from clova_etl.warehouse.connect import connect
from clova_etl.warehouse.ddl import render_ddl
from clova_etl.warehouse.errors import (
    ChecksFailedError,
    DataRejectedError,
    InvalidIdentifier,
    InvalidWarehouseURI,
    ParquetInputError,
    SchemaMismatchError,
    WarehouseBusyError,
    WarehouseConfigError,
    WarehouseError,
    WarehouseUnavailableError,
)
from clova_etl.warehouse.loader import LoadResult, ProgressCallback, Warehouse
from clova_etl.warehouse.uri import (
    DEFAULT_SCHEMA,
    WarehouseURI,
    parse_warehouse_uri,
    quote_ident,
    validate_identifier,
)
from clova_etl.warehouse.views import VIEWS, View, render_views

__all__ = [
    "CHECKS",
    "DEFAULT_SCHEMA",
    "VIEWS",
    "Check",
    "CheckConfig",
    "CheckContext",
    "CheckResult",
    "ChecksFailedError",
    "DataRejectedError",
    "InvalidIdentifier",
    "InvalidWarehouseURI",
    "LoadResult",
    "ParquetBatch",
    "ParquetInputError",
    "ProgressCallback",
    "SchemaMismatchError",
    "TableFiles",
    "View",
    "Warehouse",
    "WarehouseBusyError",
    "WarehouseConfigError",
    "WarehouseError",
    "WarehouseURI",
    "WarehouseUnavailableError",
    "connect",
    "parse_warehouse_uri",
    "quote_ident",
    "render_ddl",
    "render_views",
    "scan_batch",
    "validate_identifier",
]
