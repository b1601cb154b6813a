"""Local OCR server benchmark: answers per second and latency, and the server's peak RSS.

    python -m bench.server_bench [--calls 60] [--results bench/RESULTS.md]

The server runs as ``clova-etl serve`` in a separate process (synthetic engine); clients are
threads, each with its own keep-alive httpx client. Documents: the generated samples (receipt PNG,
3-page PDF) and a blank 10-page A4 PDF (the General page limit, rendered at 144 dpi).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image

from clova_etl.samples import build_sample

SECRET = "bench-secret"
SECTION = "## server (bench/server_bench.py)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _blank_a4_pdf(pages: int) -> bytes:
    images = [Image.new("RGB", (1190, 1684), "white") for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=144.0)
    return out.getvalue()


def _rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _run(base: str, data: bytes, fmt: str, calls: int, workers: int) -> dict[str, float]:
    url = f"{base}/custom/v1/1/b/general"
    headers = {"X-OCR-SECRET": SECRET}
    message = json.dumps(
        {
            "version": "V2",
            "requestId": "b",
            "timestamp": 0,
            "images": [{"format": fmt, "name": "b"}],
        }
    )
    local = threading.local()
    clients: list[httpx.Client] = []

    def one(_: int) -> float:
        # One keep-alive client per thread: httpcore's pool is not reliable across threads.
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=120)
            clients.append(local.client)
        start = time.perf_counter()
        r = local.client.post(
            url, headers=headers, data={"message": message}, files={"file": ("b", data)}
        )
        r.raise_for_status()
        return time.perf_counter() - start

    try:
        one(0)  # warm-up
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            latencies = list(pool.map(one, range(calls)))
        elapsed = time.perf_counter() - start
    finally:
        for c in clients:
            c.close()
    return {
        "rps": calls / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p95": sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000,
    }


def main() -> int:
    """Run the benchmark and write its section of RESULTS.md."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()

    port = _free_port()
    cmd = [sys.executable, "-m", "clova_etl.cli", "serve", "--port", str(port)]
    cmd += ["--secret", SECRET, "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/_health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        docs = [
            ("receipt-ko PNG, 1 page", build_sample("receipt-ko"), "png"),
            ("contract-3p PDF, 3 pages", build_sample("contract-3p"), "pdf"),
            ("blank A4 PDF, 10 pages", _blank_a4_pdf(10), "pdf"),
        ]
        rows = []
        for label, data, fmt in docs:
            calls = args.calls if "10 pages" not in label else max(8, args.calls // 5)
            for workers in (1, 4):
                result = _run(base, data, fmt, calls, workers)
                rows.append((label, len(data) / 1024, workers, calls, result))
                print(label, workers, {k: round(v, 1) for k, v in result.items()})
        rss = _rss_peak_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)

    lines = [
        SECTION,
        "",
        "Machine: 2 CPUs, Python 3.11; `clova-etl serve` (synthetic engine) in its own process,",
        "multipart uploads, one keep-alive httpx client per worker thread. The machine was",
        f"shared with other work (load average {os.getloadavg()[0]:.1f} at the end): noisy.",
        "",
        "| document | KB | concurrent | calls | answers/s | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, kb, workers, calls, r in rows:
        lines.append(
            f"| {label} | {kb:.0f} | {workers} | {calls} | {r['rps']:.1f} | {r['p50']:.1f} "
            f"| {r['p95']:.1f} |"
        )
    lines += ["", f"Server peak RSS after the run: {rss:.0f} MB.", ""]
    section = "\n".join(lines)
    print(section)
    if args.results is not None:
        _write_section(args.results, section)
    return 0


def _write_section(path: Path, section: str) -> None:
    """Replace (or append) this benchmark's section, leaving other sections alone."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("" if end == -1 else text[end:])
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as f:
        f.write(text)
    Path(f.name).replace(path)


if __name__ == "__main__":
    sys.exit(main())
