"""The bill under faults: the local server's billable count against the ledger's, per fault.

    python -m bench.bench_billing [--docs 100] [--results bench/RESULTS.md]

Not a speed figure: an account. For each fault of the local server (synthetic engine), one
``ingest`` under a budget (``--max-calls``) over ``--docs`` distinct documents plus 10 byte-
identical copies, then, with the fault lifted, runs until nothing is pending. Each row gives what
the server billed, what the ledger of charges counts (answered / possibly billed / re-sent), and
the budget: the two bills must be equal and the first run's at most the budget. The same
scenarios are asserted by ``tests/reliability/test_billing_matrix.py``; this prints the numbers.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from clova_etl.config import (
    BudgetConfig,
    OCRConfig,
    PipelineConfig,
    RunConfig,
    SourceConfig,
    StoreConfig,
    WarehouseConfig,
)
from clova_etl.pipeline import run_ingest
from clova_etl.pipeline.ledger import Ledger
from clova_etl.pipeline.storage import Storage
from clova_etl.samples import build_sample
from clova_etl.server import RunningServer, ServerConfig, start_background

SECTION = "## billing under faults (bench/bench_billing.py)"
SECRET = "bench-billing-secret"

SCENARIOS: list[tuple[str, dict[str, Any], dict[str, Any], int]] = [
    ("30 % dropped connections", {"drop_rate": 0.3, "seed": 1}, {}, 10),
    ("10 % malformed + 10 % dropped", {"malformed_rate": 0.1, "drop_rate": 0.1, "seed": 2}, {}, 40),
    ("20 % 5xx (0500/0501)", {"fail_rate": 0.2, "seed": 3}, {}, 40),
    (
        "throttled: 20/s, client told 40/s",
        {"rate_limit": 20.0, "seed": 4},
        {"rate_limit_per_second": 40.0},
        40,
    ),
    ("quota runs out after 30", {"quota": 30}, {}, 40),
]


def _server(**faults: Any) -> RunningServer:
    return start_background(ServerConfig(secret=SECRET, port=0, **faults))


def _config(root: Path, server: RunningServer, max_calls: int | None, **ocr: Any) -> PipelineConfig:
    return PipelineConfig(
        source=SourceConfig(uri=str(root / "bucket")),
        store=StoreConfig(uri=str(root / "store")),
        warehouse=WarehouseConfig(uri=f"duckdb:///{root / 'wh.duckdb'}"),
        ocr=OCRConfig(
            invoke_url=server.invoke_url("general"),
            secret=SECRET,
            **{"concurrency": 8, "max_retries": 3, **ocr},
        ),
        budget=BudgetConfig(max_calls_per_run=max_calls),
        run=RunConfig(batch_size=16),
    )


def _fill(root: Path, n: int) -> None:
    sample = build_sample("receipt-ko")
    inbox = root / "bucket" / "inbox" / "general"
    inbox.mkdir(parents=True)
    for i in range(n):
        (inbox / f"d-{i:03d}.png").write_bytes(sample + f"bench-billing-{i:05d}".encode())
    for i in range(10):
        (inbox / f"twin-{i:02d}.png").write_bytes(sample + f"bench-billing-{i:05d}".encode())


def scenario(n: int, faults: dict[str, Any], ocr: dict[str, Any], max_calls: int) -> dict[str, Any]:
    """One row: the faulty run under a budget, then runs without the fault until complete."""
    with tempfile.TemporaryDirectory(prefix="bench-billing-") as tmp:
        root = Path(tmp)
        _fill(root, n)
        faulty = _server(**faults)
        try:
            run_ingest(_config(root, faulty, max_calls, **ocr), run_id="faulty")
            first = int(faulty.stats()["billable_calls"])
            ledger = Ledger(Storage.local(root / "store"))
            first_ledger = ledger.bill()["totals"]["calls"]
            clean = _server()
            try:
                for k in range(4):
                    if run_ingest(_config(root, clean, None), run_id=f"lifted-{k}").complete:
                        break
                total = first + int(clean.stats()["billable_calls"])
            finally:
                clean.stop()
        finally:
            faulty.stop()
        bill = ledger.bill()["totals"]
        return {
            "budget": max_calls,
            "server_first": first,
            "ledger_first": first_ledger,
            "server_total": total,
            "ledger_total": bill["calls"],
            "answered": bill["answered_calls"],
            "possibly_billed": bill["possibly_billed_calls"],
            "resent": bill["resent_calls"],
        }


def section(rows: list[tuple[str, dict[str, Any]]], n: int) -> str:
    """This benchmark's section of RESULTS.md."""
    lines = [
        SECTION,
        "",
        f"`python -m bench.bench_billing --docs {n}` — {datetime.now():%Y-%m-%d}, "
        f"{platform.node()}, Python {platform.python_version()}. {n} distinct documents + 10 "
        "byte-identical copies; first run under the fault and `--max-calls` (budget), then the "
        "fault lifted and runs repeated until nothing is pending.",
        "",
        "| fault | budget | server, first run | ledger, first run | server, total | ledger, "
        "total | answered | possibly billed | re-sent |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['budget']} | {r['server_first']} | {r['ledger_first']} | "
            f"{r['server_total']} | {r['ledger_total']} | {r['answered']} | "
            f"{r['possibly_billed']} | {r['resent']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run every scenario; print the table and optionally write it into RESULTS.md."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--results", type=Path)
    args = parser.parse_args()
    rows = [(name, scenario(args.docs, f, o, b)) for name, f, o, b in SCENARIOS]
    text = section(rows, args.docs)
    print(text)
    if args.results:
        old = args.results.read_text() if args.results.exists() else ""
        if SECTION in old:
            head, _, rest = old.partition(SECTION)
            nxt = rest.find("\n## ")
            old = head + (rest[nxt + 1 :] if nxt >= 0 else "")
        args.results.write_text(old.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
