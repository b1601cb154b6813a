"""``clova-etl inspect``: each page image with the OCR result drawn over it, as static HTML.

Exit status: 0 written, 1 nothing matches or the warehouse has no clova-etl tables, 2 no
warehouse given, 75 transient (warehouse unreachable or locked: retry).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from clova_etl.commands.load import EXIT_TRANSIENT, WAREHOUSE_ENV

HELP = "write HTML pages showing each document's pages with the OCR boxes drawn on them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``clova-etl inspect``."""
    parser.add_argument(
        "--warehouse",
        metavar="URI",
        default=os.environ.get(WAREHOUSE_ENV),
        help=f"duckdb:///path.duckdb or postgresql://… (default: ${WAREHOUSE_ENV})",
    )
    parser.add_argument("--schema", default="ocr", help="warehouse schema (default: ocr)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--request-id", metavar="ID", help="one OCR request")
    which.add_argument("--source-uri", metavar="URI", help="one document (its current results)")
    which.add_argument("--run-id", metavar="ID", help="every document of a pipeline run")
    which.add_argument("--all", action="store_true", help="every document (current results)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    parser.add_argument(
        "--config",
        metavar="TOML",
        help="configuration naming the source bucket (default: $CLOVA_ETL_CONFIG)",
    )
    parser.add_argument(
        "--source",
        metavar="URI",
        help="bucket the page images are read from (default: the configuration's; local "
        "file:// sources are read in place)",
    )
    parser.add_argument("--source-endpoint-url", metavar="URL", help="S3-compatible endpoint")
    parser.add_argument(
        "--low-confidence",
        type=float,
        default=0.5,
        metavar="X",
        help="a field below this confidence is drawn in red (default 0.5)",
    )


def source_storage(config: str | None, source: str | None, endpoint_url: str | None) -> Any:
    """The source bucket, when one is configured (never a default folder made up here)."""
    configured = config or source or os.environ.get("CLOVA_ETL_CONFIG")
    if not (configured or os.environ.get("CLOVA_ETL_SOURCE_URI")):
        return None
    from clova_etl.config import load_config
    from clova_etl.pipeline.storage import open_source

    overrides = {"source": {"uri": source, "endpoint_url": endpoint_url}}
    return open_source(load_config(config, overrides=overrides))


def run(args: argparse.Namespace) -> int:
    """Read, draw, write, print where."""
    from clova_etl.inspector import NothingToInspectError, build_inspector
    from clova_etl.pipeline.errors import PipelineError
    from clova_etl.report import NotAClovaWarehouseError
    from clova_etl.warehouse import WarehouseError

    if not args.warehouse:
        print(
            f"clova-etl inspect: give the warehouse with --warehouse URI or ${WAREHOUSE_ENV}",
            file=sys.stderr,
        )
        return 2
    try:
        result = build_inspector(
            args.warehouse,
            args.out,
            request_id=args.request_id,
            source_uri=args.source_uri,
            run_id=args.run_id,
            storage=source_storage(args.config, args.source, args.source_endpoint_url),
            schema=args.schema,
            low_confidence=args.low_confidence,
        )
    except (NothingToInspectError, NotAClovaWarehouseError, PipelineError) as exc:
        print(f"clova-etl inspect: {exc}", file=sys.stderr)
        return 1
    except WarehouseError as exc:
        print(f"clova-etl inspect: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_TRANSIENT if exc.transient else 1
    pages = sum(len(d.pages) for d in result.documents)
    missing = f", {result.missing_images} without their image" if result.missing_images else ""
    single = args.request_id or args.source_uri
    where = next(iter(result.pages.values())) if single else result.index
    print(f"inspect: {where}: {len(result.documents)} document(s), {pages} page(s){missing}")
    return 0
