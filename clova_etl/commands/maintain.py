"""``clova-etl maintain --warehouse iceberg…``: Iceberg snapshot housekeeping.

Compacts tables with many small files, expires snapshots older than ``--older-than`` (the
current one is always kept) and deletes the files only those snapshots referenced. Run it on a
schedule (daily is plenty); it is safe beside loads: a table a load changes meanwhile is left
for the next run. Exit status: 0 done, 1 wrong configuration, 75 transient.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta

from clova_etl.commands.load import WAREHOUSE_ENV, require_warehouse
from clova_etl.commands.prune import duration

HELP = "Iceberg housekeeping: compact small files, expire old snapshots, delete unused files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``clova-etl maintain``."""
    parser.add_argument(
        "--warehouse",
        metavar="URI",
        default=os.environ.get(WAREHOUSE_ENV),
        help=f"an iceberg… warehouse URI (default: ${WAREHOUSE_ENV})",
    )
    parser.add_argument("--schema", default="ocr", help="Iceberg namespace (default: ocr)")
    parser.add_argument(
        "--older-than",
        type=duration,
        default=timedelta(days=7),
        metavar="AGE",
        help="expire snapshots older than this (default 7d): time travel reaches this far back",
    )
    parser.add_argument(
        "--retain-last", type=int, default=1, metavar="N", help="always keep the newest N snapshots"
    )
    parser.add_argument(
        "--min-files",
        type=int,
        default=None,
        metavar="N",
        help="compact a table once it has N data files or more (default 8)",
    )
    parser.add_argument("--no-compact", action="store_true", help="only expire snapshots")
    parser.add_argument("--dry-run", action="store_true", help="report; change nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    """Maintain the warehouse's Iceberg tables."""
    import orjson

    from clova_etl.commands.load import EXIT_REFUSED, fail
    from clova_etl.warehouse import WarehouseError, connect
    from clova_etl.warehouse.iceberg import IcebergWarehouse
    from clova_etl.warehouse.iceberg_maintenance import COMPACT_MIN_FILES, maintain

    uri = require_warehouse(args)
    try:
        with connect(uri, schema=args.schema) as wh:
            if not isinstance(wh, IcebergWarehouse):
                print(f"clova-etl maintain: {wh.uri} is not an Iceberg warehouse", file=sys.stderr)
                return EXIT_REFUSED
            report = maintain(
                wh,
                older_than=args.older_than,
                retain_last=args.retain_last,
                compact=not args.no_compact,
                min_files=args.min_files or COMPACT_MIN_FILES,
                dry_run=args.dry_run,
            )
    except WarehouseError as exc:
        return fail(exc)
    if args.json:
        print(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        print(report.render())
    return 0
