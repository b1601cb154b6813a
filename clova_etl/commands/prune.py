"""``clova-etl prune``: remove old runs' working files from the store (Parquet, batches)."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta

from clova_etl.commands.ingest import add_store_arguments

HELP = (
    "Remove the per-run working files (parquet/<run>/, runs/<run>/) of runs older than a "
    "cutoff; raw responses, charges, budgets and object states are never touched."
)

_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def duration(text: str) -> timedelta:
    """``30d``, ``36h``, ``2w`` (or a bare number of days) as a timedelta."""
    match = re.fullmatch(r"\s*(\d+)\s*([hdw]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 30d, 36h, 2w)")
    number, unit = match.groups()
    return timedelta(**{_UNITS[unit or "d"]: int(number)})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``clova-etl prune``."""
    add_store_arguments(parser)
    parser.add_argument(
        "--older-than",
        type=duration,
        default=timedelta(days=30),
        metavar="AGE",
        help="remove run folders whose newest file is older than this (default 30d; at least 1d)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be removed; remove nothing"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    """Prune the configured store."""
    import orjson

    from clova_etl.config import load_config
    from clova_etl.pipeline.errors import PipelineError
    from clova_etl.pipeline.retention import prune
    from clova_etl.pipeline.storage import Storage

    store = {"uri": args.store, "endpoint_url": args.store_endpoint_url}
    try:
        config = load_config(args.config, overrides={"store": store})
        report = prune(Storage.open(config.store), args.older_than, dry_run=args.dry_run)
    except (PipelineError, ValueError) as exc:
        print(f"clova-etl prune: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        print(report.render())
    return 0
