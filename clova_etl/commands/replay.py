"""``clova-etl replay``: re-flatten and reload stored raw responses; never calls the API."""

from __future__ import annotations

import argparse
import sys

from clova_etl.commands.ingest import add_config_arguments, config_from_args

HELP = "Re-flatten and reload raw responses from the store by date range or request id (no calls)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``clova-etl replay``."""
    add_config_arguments(parser)
    parser.add_argument(
        "--since", metavar="DATE", help="first day (UTC, YYYY-MM-DD) the responses were stored"
    )
    parser.add_argument("--until", metavar="DATE", help="last day (inclusive)")
    parser.add_argument(
        "--request-id",
        action="append",
        default=[],
        metavar="ID",
        help="replay this request (repeatable)",
    )
    parser.add_argument(
        "--all", action="store_true", help="replay every stored response (any date)"
    )


def run(args: argparse.Namespace) -> int:
    """Replay from the raw store into the warehouse."""
    import orjson

    from clova_etl.pipeline import new_run_id, replay
    from clova_etl.pipeline.errors import PipelineError

    if not (args.since or args.until or args.request_id or args.all):
        print("clova-etl replay: give --since/--until, --request-id or --all", file=sys.stderr)
        return 2
    try:
        config = config_from_args(args, with_source=False)
        since = args.since or ("0001-01-01" if args.all or args.until else None)
        until = args.until or ("9999-12-31" if args.all or args.since else None)
        result = replay(
            config,
            args.run_id or new_run_id("replay"),
            since=since,
            until=until,
            request_ids=args.request_id,
        )
    except (PipelineError, ValueError) as exc:
        print(f"clova-etl replay: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return 0
    flat = result.get("flatten") or {}
    load = result.get("load") or {}
    print(f"replay {result['run_id']}: {result['request_ids']} request(s), 0 API calls")
    if flat:
        missing = len(flat.get("missing_request_ids", []))
        print(f"  documents: {flat['documents']} flattened, {missing} without a stored response")
        rows = ", ".join(f"{k}={v}" for k, v in (load.get("rows") or {}).items())
        print(f"  loaded rows: {rows}")
        for warning in load.get("warnings", []):
            print(f"  warning: {warning}")
    return 0
