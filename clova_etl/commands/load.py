"""``clova-etl load PARQUET_DIR --warehouse URI``: load a Parquet batch, checks included.

Exit status: 0 loaded (warnings allowed), 1 refused (a blocking check failed, or the data or
configuration is wrong: nothing was loaded), 75 transient (warehouse unreachable or locked:
retry).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clova_etl.warehouse import CheckConfig, CheckResult, WarehouseError

HELP = "load flattened Parquet tables into the warehouse (replace by request_id), then check"

WAREHOUSE_ENV = "CLOVA_ETL_WAREHOUSE_URI"
EXIT_REFUSED = 1
EXIT_TRANSIENT = 75  # sysexits EX_TEMPFAIL

log = logging.getLogger(__name__)


def add_warehouse_arguments(parser: argparse.ArgumentParser) -> None:
    """``--warehouse``, ``--schema`` and the check thresholds (shared with ``check``)."""
    parser.add_argument(
        "--warehouse",
        metavar="URI",
        default=os.environ.get(WAREHOUSE_ENV),
        help=f"duckdb:///path.duckdb or postgresql://user@host:port/db (default: ${WAREHOUSE_ENV})",
    )
    parser.add_argument("--schema", default="ocr", help="warehouse schema (default: ocr)")
    parser.add_argument(
        "--low-confidence",
        type=float,
        default=0.5,
        metavar="X",
        help="a field below this confidence is low-confidence (default 0.5)",
    )
    parser.add_argument(
        "--max-low-share",
        type=float,
        default=0.2,
        metavar="S",
        help="warn for requests with a larger share of low-confidence fields (default 0.2)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def check_config(args: argparse.Namespace) -> CheckConfig:
    """The check thresholds given on the command line."""
    from clova_etl.warehouse import CheckConfig

    return CheckConfig(
        low_confidence=args.low_confidence, max_low_confidence_share=args.max_low_share
    )


def require_warehouse(args: argparse.Namespace) -> str:
    """The ``--warehouse`` URI, or exit 2 with how to give it."""
    if not args.warehouse:
        print(
            f"clova-etl: give the warehouse with --warehouse URI or ${WAREHOUSE_ENV}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return str(args.warehouse)


def print_checks(results: list[CheckResult]) -> None:
    """One line per check."""
    for result in results:
        print(f"  {result.summary()}")


def fail(exc: WarehouseError) -> int:
    """Print the error and return the exit status it means."""
    print(f"clova-etl: {type(exc).__name__}: {exc}", file=sys.stderr)
    return EXIT_TRANSIENT if exc.transient else EXIT_REFUSED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``clova-etl load``."""
    parser.add_argument("parquet_dir", metavar="PARQUET_DIR", help="folder flatten wrote")
    add_warehouse_arguments(parser)
    parser.add_argument("--run-id", default=None, help="pipeline run to record in etl_loads")
    parser.add_argument(
        "--reload-unchanged",
        action="store_true",
        help="replace the rows of requests whose content_hash the warehouse already holds "
        "(by default they are skipped: same stored answer, same parser, same rows)",
    )


def _tables_in(parquet_dir: str) -> int:
    """Tables the batch holds (a folder each), for the progress line's total."""
    from pathlib import Path

    from clova_etl.schema import ETL_OBJECTS, TABLES

    names = {*TABLES, ETL_OBJECTS.name}
    root = Path(parquet_dir)
    return sum(1 for name in names if (root / name).is_dir()) if root.is_dir() else len(TABLES)


def run(args: argparse.Namespace) -> int:
    """Load, print rows per table and the checks; non-zero when nothing was loaded."""
    from clova_etl import progress
    from clova_etl.warehouse import ChecksFailedError, WarehouseError, connect

    uri = require_warehouse(args)
    rows = 0

    def loaded(table: str, n: int) -> None:
        nonlocal rows
        rows += n
        shown.advance(1, rows=rows)

    try:
        with (
            connect(uri, schema=args.schema, check_config=check_config(args)) as wh,
            progress.phase("load", _tables_in(args.parquet_dir), unit="tables") as shown,
        ):
            result = wh.load(
                args.parquet_dir,
                run_id=args.run_id,
                on_progress=loaded,
                skip_unchanged=not args.reload_unchanged,
            )
    except ChecksFailedError as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "checks": [r.to_dict() for r in exc.results]}))
        return fail(exc)
    except WarehouseError as exc:
        return fail(exc)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    print(
        f"load {result.load_id}: {result.total_rows} rows of {result.request_count} request(s) "
        f"into {wh.uri} schema {args.schema!r} in {result.duration_s:.2f}s"
        + (
            f" ({result.unchanged_requests} unchanged request(s) skipped)"
            if result.unchanged_requests
            else ""
        )
    )
    for table, rows in result.rows.items():
        print(f"  {table:<18} {rows:>10} rows")
    print("checks:")
    print_checks(result.checks)
    return 0
