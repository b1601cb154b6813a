"""Airflow overhead: one `clova_ocr_ingest` run against the same work through `clova-etl ingest`.

    python -m bench.bench_airflow_overhead [--docs 5000] [--batch-size 16 --batch-size 250]
                                           [--max-batches 64]
                                           [--results bench/RESULTS.md]

Both read the same TOML configuration (local bucket, a fresh store and DuckDB warehouse each,
the same batch size, batch cap and concurrency) and call the same local OCR server
(``clova-etl serve``, synthetic engine, no latency, no rate limit) in its own process. The
documents are copies of one small sample PNG, each its own request, all last modified inside one
day.

- CLI: ``clova-etl ingest --since D-1d --until D`` (wall time of the process).
- Airflow: ``airflow dags test clova_ocr_ingest D`` (the data-interval timetable covers
  [D-1d, D)), on a fresh SQLite metadata database migrated beforehand (not timed). Its wall time
  includes Airflow's start-up; the DAG run's own duration (first task start to last task end)
  is given too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bench_e2e import SECRET, _wait_ready, make_documents
from bench.net import free_port
from bench.results import replace_titled

SECTION = "## Airflow overhead (bench/bench_airflow_overhead.py)"
REPO = Path(__file__).resolve().parents[1]
DAY = datetime(2024, 6, 2, tzinfo=UTC)  # logical date: the run covers [June 1, June 2)


def _config(
    work: Path, name: str, batch_size: int, max_batches: int, concurrency: int, invoke_url: str
) -> Path:
    path = work / f"{name}.toml"
    path.write_text(
        f'[source]\nuri = "{work / "bucket"}"\n\n'
        f'[store]\nuri = "{work / name / "store"}"\n\n'
        f'[warehouse]\nuri = "duckdb:///{work / name / "wh.duckdb"}"\n\n'
        f'[ocr]\ninvoke_url = "{invoke_url}"\nconcurrency = {concurrency}\n\n'
        f"[run]\nbatch_size = {batch_size}\nmax_batches = {max_batches}\n",
        encoding="utf-8",
    )
    return path


def _stamp(bucket: Path) -> None:
    ts = (DAY - timedelta(hours=12)).timestamp()
    for path in bucket.rglob("*.png"):
        os.utime(path, (ts, ts))


def _loaded(warehouse: Path) -> int:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM ocr.etl_objects WHERE status = 'loaded'").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def run_cli(work: Path, config: Path) -> dict[str, Any]:
    """``clova-etl ingest`` over the interval; wall seconds and documents loaded."""
    cmd = [sys.executable, "-m", "clova_etl.cli", "ingest", "--config", str(config), "--json"]
    cmd += ["--since", (DAY - timedelta(days=1)).isoformat(), "--until", DAY.isoformat()]
    env = {**os.environ, "CLOVA_OCR_SECRET": SECRET}
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"clova-etl ingest failed: {done.stderr[-3000:]}")
    return {
        "wall_s": round(wall, 2),
        "phase_seconds": _cli_phases(done.stderr),
        "loaded": _loaded(work / "cli" / "wh.duckdb"),
    }


def _cli_phases(log: str) -> dict[str, float]:
    """Seconds of each step, from the times of the steps' summary log lines."""
    marks: dict[str, datetime] = {}
    for line in log.splitlines():
        stamp, _, rest = line.partition(" INFO clova_etl.pipeline: ")
        if not rest:
            continue
        step = rest.split(" ", 1)[0]
        when = datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S,%f")
        marks[step] = when
    order = ["discover", "plan", "ocr", "flatten", "load"]
    out: dict[str, float] = {}
    previous = marks.get("discover")
    for step in order[1:]:
        if step in marks and previous is not None:
            out[step] = round((marks[step] - previous).total_seconds(), 1)
            previous = marks[step]
    return out


def run_airflow(work: Path, config: Path, invoke_url: str) -> dict[str, Any]:
    """``airflow dags test`` of the ingest DAG; wall seconds, DAG-run seconds, documents loaded."""
    home = work / "airflow-home"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_VAR_CLOVA_ETL_CONFIG": str(config),
        "AIRFLOW_CONN_CLOVA_OCR_DEFAULT": json.dumps(
            {"conn_type": "clova_ocr", "host": invoke_url, "password": SECRET}
        ),
    }
    env = {k: v for k, v in env.items() if not k.startswith("CLOVA_ETL_")}
    subprocess.run(
        ["airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=300
    )
    cmd = ["airflow", "dags", "test", "clova_ocr_ingest", DAY.isoformat()]
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    (work / "airflow.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        raise RuntimeError(f"airflow dags test failed: {done.stderr[-3000:]}")
    con = sqlite3.connect(home / "airflow.db")
    try:
        (state,) = con.execute(
            "SELECT state FROM dag_run WHERE dag_id = 'clova_ocr_ingest'"
        ).fetchone()
        # dag test stamps the run's start_date with the logical date: use its tasks' span.
        tasks, start, end = con.execute(
            "SELECT count(*), min(start_date), max(end_date) FROM task_instance "
            "WHERE dag_id = 'clova_ocr_ingest'"
        ).fetchone()
        by_task = con.execute(
            "SELECT task_id, sum(duration) FROM task_instance "
            "WHERE dag_id = 'clova_ocr_ingest' GROUP BY task_id"
        ).fetchall()
    finally:
        con.close()
    run_s = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return {
        "wall_s": round(wall, 2),
        "dag_run_s": round(run_s, 2),
        "state": state,
        "task_instances": int(tasks),
        "task_seconds": {task: round(float(sec or 0), 1) for task, sec in by_task},
        "loaded": _loaded(work / "airflow" / "wh.duckdb"),
    }


def run(
    docs: int, batch_size: int, max_batches: int, concurrency: int, keep: bool
) -> dict[str, Any]:
    """Both ways over the same documents; returns the figures."""
    work = Path(tempfile.mkdtemp(prefix="clova-bench-airflow-"))
    port = free_port()
    serve = [sys.executable, "-m", "clova_etl.cli", "serve", "--port", str(port)]
    serve += ["--secret", SECRET, "--log-level", "warning"]
    server = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    invoke_url = f"{base}/custom/v1/1234/local/general"
    try:
        _wait_ready(base, server)
        make_documents(work / "bucket", docs)
        _stamp(work / "bucket")
        settings = (batch_size, max_batches, concurrency, invoke_url)
        cli_config = _config(work, "cli", *settings)
        airflow_config = _config(work, "airflow", *settings)
        cli = run_cli(work, cli_config)
        airflow = run_airflow(work, airflow_config, invoke_url)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return {
        "docs": docs,
        "batch_size": batch_size,
        "max_batches": max_batches,
        "concurrency": concurrency,
        "cli": cli,
        "airflow": airflow,
        "ratio_wall": round(airflow["wall_s"] / cli["wall_s"], 2),
        "ratio_dag_run": round(airflow["dag_run_s"] / cli["wall_s"], 2),
    }


def render(rows: list[dict[str, Any]], command: str) -> str:
    """This benchmark's section of RESULTS.md."""
    lines = [
        SECTION,
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite metadata "
        "DB, `airflow dags test` (tasks run one after another in one process); server "
        "`clova-etl serve` (synthetic engine, no latency/limit) in its own process.",
        f"Command: `{command}`",
        "",
        "| docs | batch | max batches | in flight | CLI s | Airflow wall s | DAG run s "
        "| task instances | loaded (CLI/Airflow) | ratio wall | ratio DAG run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c, a = r["cli"], r["airflow"]
        lines.append(
            f"| {r['docs']} | {r['batch_size']} | {r['max_batches']} | {r['concurrency']} "
            f"| {c['wall_s']} "
            f"| {a['wall_s']} | {a['dag_run_s']} | {a['task_instances']} "
            f"| {c['loaded']}/{a['loaded']} | **{r['ratio_wall']}** | {r['ratio_dag_run']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the benchmark for each batch size; print and optionally write RESULTS.md."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, action="append", default=None)
    parser.add_argument(
        "--max-batches", type=int, default=64, help="run.max_batches (the default: 64)"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for size in args.batch_size or [16]:
        figures = run(args.docs, size, args.max_batches, args.concurrency, args.keep)
        print(json.dumps(figures), flush=True)
        rows.append(figures)
    if args.results:
        command = "python -m bench.bench_airflow_overhead " + " ".join(sys.argv[1:])
        replace_titled(SECTION, render(rows, command), args.results)


if __name__ == "__main__":
    main()
