"""``clova-etl check --warehouse URI``: run the validation checks and record them.

Exit status: 0 no blocking check failed (warnings allowed), 1 a blocking check failed (or
the configuration is wrong), 75 transient (warehouse unreachable or locked: retry).
"""

from __future__ import annotations

import argparse
import json

from clova_etl.commands.load import (
    EXIT_REFUSED,
    add_warehouse_arguments,
    check_config,
    fail,
    print_checks,
    require_warehouse,
)

HELP = "run the validation checks over the warehouse (or one batch) and record the results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``clova-etl check``."""
    add_warehouse_arguments(parser)
    parser.add_argument(
        "--parquet-dir",
        metavar="DIR",
        default=None,
        help="check only this batch's request_ids, and its row counts against its Parquet",
    )
    parser.add_argument(
        "--no-record", action="store_true", help="do not write etl_check_results rows"
    )


def run(args: argparse.Namespace) -> int:
    """Run the checks, print one line each; 1 when a blocking check failed."""
    from clova_etl.warehouse import WarehouseError, connect

    uri = require_warehouse(args)
    try:
        with connect(uri, schema=args.schema, check_config=check_config(args)) as wh:
            results = wh.run_checks(parquet_dir=args.parquet_dir, record=not args.no_record)
    except WarehouseError as exc:
        return fail(exc)
    failed = [r for r in results if r.status == "fail"]
    if args.json:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False))
    else:
        scope = "batch " + args.parquet_dir if args.parquet_dir else "whole warehouse"
        print(f"checks of {wh.uri} schema {args.schema!r} ({scope}):")
        print_checks(results)
        if failed:
            print(f"{len(failed)} blocking check(s) failed: {', '.join(r.name for r in failed)}")
    return EXIT_REFUSED if failed else 0
