"""``clova-etl flatten FILES_OR_DIRS... --out DIR``: responses to one Parquet dataset per table."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

HELP = "flatten raw OCR responses (envelopes or bare CLOVA bodies) into Parquet tables"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``clova-etl flatten``."""
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="FILES_OR_DIRS",
        help="response files, or directories searched recursively for *.json",
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="writes DIR/<table>/part-NNNNN.parquet"
    )
    parser.add_argument(
        "--batch-mb",
        type=float,
        default=16.0,
        help="input megabytes per batch (one Parquet file per table per batch; default 16)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="batches flattened at once (default: cores)"
    )


def run(args: argparse.Namespace) -> int:
    """Flatten, print a per-table row count and the failed documents; 0 even if some failed."""
    from clova_etl.flatten import flatten_to_parquet

    missing = [p for p in args.inputs if not Path(p).exists()]
    if missing:
        print(
            f"clova-etl flatten: no such file or directory: {', '.join(missing)}", file=sys.stderr
        )
        return 2
    from clova_etl import progress

    total = sum(
        sum(1 for _ in Path(p).rglob("*.json")) if Path(p).is_dir() else 1 for p in args.inputs
    )
    with progress.phase("flatten", total, unit="documents") as shown:
        summary = flatten_to_parquet(
            args.inputs,
            args.out,
            batch_bytes=max(1, int(args.batch_mb * 1024 * 1024)),
            workers=args.workers,
            on_batch=shown.advance,
        )
    print(
        f"{summary.documents} documents ({summary.input_bytes / 1e6:.1f} MB) -> {summary.out_dir}"
    )
    for table, rows in summary.rows.items():
        print(f"  {table:<16} {rows:>10} rows")
    for failed in summary.failed:
        print(f"  {failed.status}: {failed.name}: {failed.error_code}: {failed.error_message}")
    if summary.failed:
        log.warning("%d of %d documents failed", len(summary.failed), summary.documents)
    return 0
