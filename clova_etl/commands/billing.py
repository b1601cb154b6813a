"""``clova-etl billing``: what the service bills, from the store alone.

Every HTTP attempt is recorded before it leaves and settled after (the ledger of charges), so
the bill is known without the warehouse or the service's console: calls and pages per day, run
and scope, split into answered, possibly billed (an answer lost after the service may have done
the work; an attempt whose worker died mid-call) and re-sent.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clova_etl.commands.ingest import add_store_arguments

HELP = "Calls and pages billed per day, run and scope (answered / possibly billed / re-sent)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``clova-etl billing``."""
    add_store_arguments(parser)
    parser.add_argument("--since", metavar="DAY", help="first UTC day (YYYY-MM-DD), inclusive")
    parser.add_argument("--until", metavar="DAY", help="last UTC day (YYYY-MM-DD), inclusive")
    parser.add_argument("--run-id", help="only this run")
    parser.add_argument("--scope", help="only this budget scope (default: every scope)")
    parser.add_argument("--json", action="store_true", help="print the bill as JSON")


def render(bill: dict[str, Any]) -> str:
    """The bill as a few aligned tables."""
    head = ("calls", "pages", "answered_calls", "possibly_billed_calls", "resent_calls")
    names = ("calls", "pages", "answered", "possibly billed", "re-sent")

    def table(title: str, key: str, rows: list[dict[str, Any]]) -> list[str]:
        if not rows:
            return []
        width = max(len(title), *(len(str(r[key])) for r in rows))
        out = [f"{title:<{width}}  " + "  ".join(f"{n:>15}" for n in names)]
        out += [f"{r[key]!s:<{width}}  " + "  ".join(f"{r[h]:>15}" for h in head) for r in rows]
        return [*out, ""]

    t = bill["totals"]
    lines = [
        f"billed: {t['calls']} call(s) / {t['pages']} page(s): {t['answered_calls']} answered, "
        f"{t['possibly_billed_calls']} possibly billed, {t['resent_calls']} re-sent "
        f"({t['not_billed_calls']} attempt(s) not billed, {t['in_flight_calls']} in flight)",
        "",
    ]
    lines += table("day", "day", bill["by_day"])
    lines += table("scope", "scope", bill["by_scope"])
    lines += table("run", "run_id", bill["by_run"])
    return "\n".join(lines).rstrip()


def run(args: argparse.Namespace) -> int:
    """Print the bill of the configured store."""
    import orjson

    from clova_etl.config import load_config
    from clova_etl.pipeline.errors import PipelineError
    from clova_etl.pipeline.ledger import Ledger
    from clova_etl.pipeline.ledger.charges import parse_day
    from clova_etl.pipeline.storage import Storage

    store = {"uri": args.store, "endpoint_url": args.store_endpoint_url}
    try:
        config = load_config(args.config, overrides={"store": store})
        ledger = Ledger(Storage.open(config.store))
        bill = ledger.bill(
            scope=args.scope,
            run_id=args.run_id,
            since=parse_day(args.since),
            until=parse_day(args.until),
        )
    except (PipelineError, ValueError) as exc:
        print(f"clova-etl billing: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(orjson.dumps(bill, option=orjson.OPT_INDENT_2).decode())
    else:
        print(render(bill))
    return 0
