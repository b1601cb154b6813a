"""End-to-end throughput: ``clova-etl ingest`` against a rate-limited, slow local OCR server.

    python -m bench.bench_e2e [--docs 1000] [--latency-ms 300] [--rate-limit 10]
                              [--concurrency 4] [--batch-size 16] [--results bench/RESULTS.md]
    python -m bench.bench_e2e --points 10:300:4,50:1000:20,100:1500:40 [--results ...]

``--points`` runs several settings one after the other (``rate:docs:concurrency`` each) and
writes one table.

The server runs as ``clova-etl serve --latency-ms 300 --rate-limit 10`` in its own process
(synthetic engine; beyond 10 calls/s it answers 0025). The client is configured for the same
10 requests/s with enough calls in flight (10/s x 0.3 s = 3, so 4). The documents are copies of
one sample PNG with its truth embedded, each made different by bytes after IEND, so every one is
its own request. The figure is documents per second over the OCR phase (first request sent to
last answer stored, read from the raw store's envelopes) as a share of the 10/s limit; the wall
time of the whole command (discover, plan, OCR, flatten, load, checks) is given beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.net import free_port
from bench.results import replace_titled
from clova_etl.samples import build_sample

SECRET = "bench-e2e-secret"
SECTION = "## end to end (bench/bench_e2e.py)"


def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError("clova-etl serve exited")
        try:
            if httpx.get(f"{base}/_health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def make_documents(bucket: Path, count: int, sample: str = "notice-ja") -> int:
    """``count`` distinct small PNGs under ``bucket/inbox/general``; returns total bytes."""
    data = build_sample(sample)
    folder = bucket / "inbox" / "general"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"doc-{i:05d}.png").write_bytes(data + f"bench-{i:06d}".encode())
    return len(data) * count


def ocr_window(store: Path) -> tuple[float, int]:
    """(seconds from the first request sent to the last answer, answers) from the raw store."""
    first: datetime | None = None
    last: datetime | None = None
    answers = 0
    for path in (store / "raw").glob("*.json"):
        call = json.loads(path.read_bytes())["call"]
        start = datetime.fromisoformat(call["requested_at"])
        end = datetime.fromisoformat(call["completed_at"])
        first = start if first is None or start < first else first
        last = end if last is None or end > last else last
        answers += 1
    if first is None or last is None:
        return float("nan"), 0
    return (last - first).total_seconds(), answers


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One benchmark run; returns its figures."""
    work = Path(tempfile.mkdtemp(prefix="clova-bench-e2e-"))
    port = free_port()
    serve = [sys.executable, "-m", "clova_etl.cli", "serve", "--port", str(port)]
    serve += ["--secret", SECRET, "--latency-ms", str(args.latency_ms)]
    serve += ["--rate-limit", str(args.rate_limit), "--log-level", "warning"]
    server = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server)
        total_bytes = make_documents(work / "bucket", args.docs)
        ingest = [sys.executable, "-m", "clova_etl.cli", "ingest", "--json"]
        ingest += ["--source", str(work / "bucket"), "--store", str(work / "store")]
        ingest += ["--warehouse", f"duckdb:///{work / 'wh.duckdb'}"]
        ingest += ["--concurrency", str(args.concurrency), "--batch-size", str(args.batch_size)]
        env = {
            **os.environ,
            "CLOVA_OCR_INVOKE_URL": f"{base}/custom/v1/1234/local/general",
            "CLOVA_OCR_SECRET": SECRET,
            "CLOVA_ETL_OCR_RATE_LIMIT_PER_SECOND": str(args.client_rate or args.rate_limit),
        }
        started = time.monotonic()
        done = subprocess.run(ingest, env=env, capture_output=True, text=True, check=False)
        wall = time.monotonic() - started
        if done.returncode != 0:
            raise RuntimeError(f"ingest failed ({done.returncode}): {done.stderr[-2000:]}")
        report = json.loads(done.stdout)
        window, answers = ocr_window(work / "store")
        stats = httpx.get(f"{base}/_stats", timeout=10).json()
    finally:
        server.terminate()
        server.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    rate = answers / window if window else float("nan")
    return {
        "docs": args.docs,
        "mb": round(total_bytes / 1e6, 1),
        "latency_ms": args.latency_ms,
        "rate_limit": args.rate_limit,
        "client_rate": args.client_rate or args.rate_limit,
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        "loaded": report["object_status"].get("loaded", 0),
        "server_calls": stats["total_calls"],
        "throttled_0025": stats["responses_by_code"].get("0025", 0),
        "ocr_seconds": round(window, 2),
        "docs_per_s": round(rate, 2),
        "ratio": round(rate / args.rate_limit, 3),
        "wall_seconds": round(wall, 2),
        "wall_docs_per_s": round(args.docs / wall, 2),
        "wall_ratio": round(args.docs / wall / args.rate_limit, 3),
    }


def render(rows: list[dict[str, Any]], command: str) -> str:
    """This benchmark's section of RESULTS.md."""
    lines = [
        SECTION,
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; server "
        f"`clova-etl serve --latency-ms {rows[0]['latency_ms']:g} --rate-limit R` (synthetic "
        "engine) in its own process, `clova-etl ingest` (DuckDB warehouse, local folders) in "
        "another, told the same rate. OCR ratio = answers per second over the OCR phase (first "
        "request sent to last answer stored) / R; whole-command ratio = documents / wall time of "
        "the command (start-up, discover, plan, OCR, flatten, load with its checks) / R.",
        f"Command: `{command}` (load average {os.getloadavg()[0]:.1f} at the end)",
        "",
        "| rate R | docs | in flight | batch | loaded | calls | 0025 | OCR s | OCR docs/s "
        "| **OCR ratio** | wall s | wall docs/s | **whole-command ratio** |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['rate_limit']:g} | {r['docs']} | {r['concurrency']} | {r['batch_size']} "
            f"| {r['loaded']} | {r['server_calls']} | {r['throttled_0025']} | {r['ocr_seconds']} "
            f"| {r['docs_per_s']} | **{r['ratio']}** | {r['wall_seconds']} "
            f"| {r['wall_docs_per_s']} | **{r['wall_ratio']}** |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the benchmark; print its figures and optionally write its RESULTS.md section."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--rate-limit", type=float, default=10.0)
    parser.add_argument("--client-rate", type=float, default=None, help="default: --rate-limit")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--points", default=None, help="rate:docs:concurrency,... (overrides the three flags)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()
    points = (
        [tuple(float(x) for x in point.split(":")) for point in args.points.split(",")]
        if args.points
        else [(args.rate_limit, args.docs, args.concurrency)]
    )
    rows = []
    for rate, docs, concurrency in points:
        one = argparse.Namespace(**vars(args))
        one.rate_limit, one.docs, one.concurrency = rate, int(docs), int(concurrency)
        figures = run(one)
        print(json.dumps(figures), flush=True)
        rows.append(figures)
    if args.results:
        command = "python -m bench.bench_e2e " + " ".join(sys.argv[1:])
        replace_titled(SECTION, render(rows, command), args.results)


if __name__ == "__main__":
    main()
