"""``clova-etl report --warehouse URI --out report.html``: the operator's one-page report.

Exit status: 0 written (even when the warehouse holds failures: the report shows them), 1 the
warehouse has no clova-etl tables or cannot be read, 2 no warehouse given, 75 transient
(warehouse unreachable or locked: retry).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

HELP = "write a static HTML report: counts, failures with reasons, confidence, slowest, checks"

WAREHOUSE_ENV = "CLOVA_ETL_WAREHOUSE_URI"
EXIT_TRANSIENT = 75


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``clova-etl report``."""
    parser.add_argument(
        "--warehouse",
        metavar="URI",
        default=os.environ.get(WAREHOUSE_ENV),
        help=f"duckdb:///path.duckdb or postgresql://… (default: ${WAREHOUSE_ENV})",
    )
    parser.add_argument("--schema", default="ocr", help="warehouse schema (default: ocr)")
    parser.add_argument(
        "--store",
        metavar="URI",
        help="the store, to show its bill (default: the configured store, if it exists)",
    )
    parser.add_argument("--run-id", default=None, help="only this pipeline run (default: all)")
    parser.add_argument(
        "--out", default="clova-etl-report.html", help="HTML file to write (default: %(default)s)"
    )
    parser.add_argument(
        "--low-confidence",
        type=float,
        default=0.5,
        metavar="X",
        help="a field below this confidence counts as low (default 0.5)",
    )
    parser.add_argument(
        "--text", action="store_true", help="also print the essentials to the terminal"
    )
    parser.add_argument(
        "--inspect",
        metavar="DIR",
        help="also write the inspector pages (clova-etl inspect) into DIR and link each "
        "document to its page; page images come from the $CLOVA_ETL_CONFIG source, or local "
        "file:// sources in place",
    )


def _write_inspector(args: argparse.Namespace) -> str:
    """Write the inspector pages of the report's scope; their folder relative to the report."""
    import os.path
    from pathlib import Path

    from clova_etl.commands.inspect import source_storage
    from clova_etl.inspector import build_inspector

    result = build_inspector(
        args.warehouse,
        args.inspect,
        run_id=args.run_id,
        storage=source_storage(None, None, None),
        schema=args.schema,
        low_confidence=args.low_confidence,
    )
    print(f"inspector: {result.index}: {len(result.documents)} document(s)")
    report_dir = Path(args.out).resolve().parent
    return Path(os.path.relpath(Path(args.inspect).resolve(), report_dir)).as_posix()


def _store(uri: str | None) -> Any:
    """The store whose bill the report shows: the one named, else the configured one if any."""
    from pathlib import Path

    from clova_etl.config import StoreConfig, load_config

    store = StoreConfig(uri=uri) if uri else load_config().store
    if "://" not in store.uri and not Path(store.uri).is_dir():
        return None  # no local store here (the warehouse was filled elsewhere)
    return store


def run(args: argparse.Namespace) -> int:
    """Collect, write, print where."""
    from clova_etl.report import NotAClovaWarehouseError, build_report, render_text
    from clova_etl.warehouse import WarehouseError

    if not args.warehouse:
        print(
            f"clova-etl report: give the warehouse with --warehouse URI or ${WAREHOUSE_ENV}",
            file=sys.stderr,
        )
        return 2
    try:
        href = _write_inspector(args) if args.inspect else None
        data = build_report(
            args.warehouse,
            out=args.out,
            schema=args.schema,
            run_id=args.run_id,
            low_confidence=args.low_confidence,
            store=_store(args.store),
            inspect_href=href,
        )
    except NotAClovaWarehouseError as exc:
        print(f"clova-etl report: {exc}", file=sys.stderr)
        return 1
    except WarehouseError as exc:
        print(f"clova-etl report: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_TRANSIENT if exc.transient else 1
    if args.text:
        print(render_text(data))
    scope = f"run {args.run_id}" if args.run_id else "whole warehouse"
    print(
        f"report ({scope}): {args.out}: {data.documents} document(s), {data.requests} "
        f"request(s), {data.failure_count} failure row(s), "
        f"{len(data.failed_checks)} failed check(s)"
    )
    return 0
