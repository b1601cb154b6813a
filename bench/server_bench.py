"""Local OCR server benchmark: one-page answers per second, one process against several.

    python -m bench.server_bench --workers 1,2 --calls 400 --concurrency 8 --reps 2 \
        --results bench/RESULTS.md

The server runs as ``clova-etl serve --workers N`` (synthetic engine) in its own process tree;
the clients run in ``--client-processes`` processes (one Python process cannot drive 200
requests/s of multipart uploads by itself), each with threads that own a keep-alive httpx
client. Server settings are interleaved rep by rep (1, 2, 1, 2...) so that they see the same
machine load. Document: the receipt-ko sample PNG (one page, its truth embedded).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.net import free_port
from bench.results import replace_titled
from clova_etl.samples import build_sample

SECRET = "bench-secret"
SECTION = "## server (bench/server_bench.py)"


def _rss_mb(pid: int) -> float:
    """Current RSS of a process and its children (MB)."""
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for proc in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _client(args: tuple[str, bytes, int, int, float]) -> dict[str, Any]:
    """One client process: ``calls`` uploads over ``threads`` keep-alive connections."""
    base, data, calls, threads, start_at = args
    url = f"{base}/custom/v1/1/b/general"
    headers = {"X-OCR-SECRET": SECRET}
    message = json.dumps(
        {
            "version": "V2",
            "requestId": "b",
            "timestamp": 0,
            "images": [{"format": "png", "name": "b"}],
        }
    )
    local = threading.local()
    clients: list[httpx.Client] = []

    def one(_: int) -> float:
        # One keep-alive client per thread: httpcore's pool is not reliable across threads.
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=120)
            clients.append(local.client)
        begin = time.perf_counter()
        r = local.client.post(
            url, headers=headers, data={"message": message}, files={"file": ("b.png", data)}
        )
        r.raise_for_status()
        return time.perf_counter() - begin

    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(threads)))  # connect and warm up
            time.sleep(max(0.0, start_at - time.time()))
            began = time.time()
            latencies = list(pool.map(one, range(calls)))
            ended = time.time()
    finally:
        for c in clients:
            c.close()
    return {"latencies": latencies, "began": began, "ended": ended}


def _measure(
    base: str, data: bytes, calls: int, concurrency: int, processes: int
) -> dict[str, float]:
    share = calls // processes
    start_at = time.time() + 2.0
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        results = pool.map(
            _client, [(base, data, share, concurrency // processes, start_at)] * processes
        )
    latencies = sorted(x for r in results for x in r["latencies"])
    elapsed = max(r["ended"] for r in results) - min(r["began"] for r in results)
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
    }


def _start(workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "clova_etl.cli", "serve", "--port", str(port)]
    cmd += ["--secret", SECRET, "--log-level", "warning", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/_health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.1)


def main() -> int:
    """Run the benchmark and write its section of RESULTS.md."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,2", help="server processes to compare")
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()

    data = build_sample("receipt-ko")
    settings = [int(w) for w in args.workers.split(",")]
    runs: dict[int, list[dict[str, float]]] = {w: [] for w in settings}
    load_before = os.getloadavg()[0]
    for _ in range(args.reps):
        for workers in settings:
            proc, base = _start(workers)
            try:
                cpu = _cpu_s(proc.pid)
                result = _measure(base, data, args.calls, args.concurrency, args.client_processes)
                stats = httpx.get(f"{base}/_stats", timeout=10).json()
                # Answers per CPU-second of the server: what 2 free cores would sustain.
                result["per_cpu_s"] = stats["billable_calls"] / max(1e-9, _cpu_s(proc.pid) - cpu)
                result["rss"] = _rss_mb(proc.pid)
                result["billed"] = stats["billable_calls"]
            finally:
                proc.terminate()
                proc.wait(30)
            runs[workers].append(result)
            print(workers, {k: round(v, 1) for k, v in result.items()}, flush=True)

    lines = [
        SECTION,
        "",
        f"`python -m bench.server_bench {' '.join(sys.argv[1:])}`",
        "",
        "Machine: 2 CPUs, Python 3.11; `clova-etl serve --workers N` (synthetic engine) in its "
        "own process tree, the clients in "
        f"{args.client_processes} other processes ({args.concurrency} keep-alive connections in "
        f"all), multipart uploads of the receipt-ko PNG (88 KB, one page); {args.calls} calls "
        "per run, settings interleaved. The clients share the 2 cores with the server, and the "
        "machine was shared with other work: 1-minute load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after.",
        "",
        "| server processes | answers/s (each run) | median answers/s | p50 ms | p95 ms "
        "| billed (/_stats) | answers per server CPU-second | server RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for workers, results in runs.items():
        each = ", ".join(f"{r['rps']:.0f}" for r in results)
        med = statistics.median(r["rps"] for r in results)
        lines.append(
            f"| {workers} | {each} | **{med:.0f}** "
            f"| {statistics.median(r['p50'] for r in results):.1f} "
            f"| {statistics.median(r['p95'] for r in results):.1f} "
            f"| {', '.join(str(int(r['billed'])) for r in results)} "
            f"| {statistics.median(r['per_cpu_s'] for r in results):.0f} "
            f"| {max(r['rss'] for r in results):.0f} |"
        )
    lines.append("")
    section = "\n".join(lines)
    print(section)
    if args.results is not None:
        replace_titled(SECTION, section, args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
