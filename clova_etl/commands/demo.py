"""``clova-etl demo``: the main job end to end on the embedded defaults, with no account.

Starts the local CLOVA-compatible OCR server (the real ``tesseract`` engine when it is
installed, else ``synthetic``), writes the sample documents into a local bucket folder, runs the
``clova_ocr_ingest`` DAG through Airflow (``airflow dags test``, its own ``AIRFLOW_HOME`` under
the work folder), then prints what landed in DuckDB, an analyst query and writes the HTML report.
Running it again makes no OCR call: every document's answer is already in the raw store.

Exit status: 0 done, 1 a step failed (the message names it and its log), 2 the set-up is
missing something (Airflow not installed, no ``dags/`` folder), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clova_etl.server import RunningServer

HELP = "run the main job end to end: local OCR server, sample bucket, Airflow DAG, DuckDB, report"

DAG_ID = "clova_ocr_ingest"
SECRET_ENV = "CLOVA_DEMO_SECRET"  # noqa: S105 - a variable name
DEFAULT_WORKDIR = ".demo"
REPO_DAGS = Path(__file__).resolve().parents[2] / "dags"
EXIT_FAILED = 1
EXIT_SETUP = 2

# Where each sample lands in the bucket: the demo's routes send general/ja and general/zh-TW to
# General OCR with their language, general/ to General OCR with table detection, and
# template/1001/ to Template OCR with templateId 1001 (the default routes, plus two languages).
BUCKET_LAYOUT: dict[str, str] = {
    "receipt-ko": "inbox/general/receipt-ko.png",
    "receipt-en": "inbox/general/receipt-en.jpg",
    "invoice-table": "inbox/general/invoice-table.png",
    "contract-3p": "inbox/general/contract-3p.pdf",
    "fax-2p": "inbox/general/fax-2p.tiff",
    "notice-ja": "inbox/general/ja/notice-ja.png",
    "notice-zh-tw": "inbox/general/zh-TW/notice-zh-tw.jpg",
    "claim-form": "inbox/template/1001/claim-form.png",
}
# A file no OCR API takes, dropped on purpose: it ends "rejected" with its reason.
BAD_FILE = ("inbox/general/scan-notes.txt", b"notes typed next to the scanner, not a scan\n")

ROUTES_TOML = """\
[[routes]]
name = "general-ja"
pattern = "inbox/general/ja/**"
api = "general"
lang = "ja"
enable_table_detection = true

[[routes]]
name = "general-zh-tw"
pattern = "inbox/general/zh-TW/**"
api = "general"
lang = "zh-TW"
enable_table_detection = true

[[routes]]
name = "general"
pattern = "inbox/general/**"
api = "general"
enable_table_detection = true

[[routes]]
name = "template"
pattern = "inbox/template/{template_id}/**"
api = "template"
"""

ANALYST_QUERY = """\
SELECT f.field_name, f.value, f.checked, round(f.infer_confidence, 2) AS confidence
FROM ocr.template_fields AS f
JOIN ocr.current_results AS c ON c.request_id = f.request_id
ORDER BY f.source_uri, f.field_index"""

_TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
_TASK_END = re.compile(r"\[DAG TEST\] end task task_id=(\S+) map_index=(-?\d+)")
# What the DAG's tasks say about the run (the plan and the final tally), from their log lines.
_RUN_NOTE = re.compile(r"\[(?:info|warning|error)\s*\] (.*?) \[clova_etl\.airflow\]")
_TASK_STATE = re.compile(r"Task instance state updated .*new_state=(\w+)")
# The last line of a Python traceback: "SomeError: message".
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b(: .*)?$")

log = logging.getLogger(__name__)


class DemoError(Exception):
    """A step failed; the message says which and where its log is."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``clova-etl demo``."""
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(DEFAULT_WORKDIR),
        help="folder for the bucket, store, warehouse, Airflow home and report "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "tesseract", "synthetic"),
        default="auto",
        help="OCR engine of the local server: auto = tesseract when installed, else synthetic",
    )
    parser.add_argument(
        "--no-airflow",
        action="store_true",
        help="run the same steps in this process (clova-etl ingest) instead of the Airflow DAG",
    )
    parser.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="logical date of the DAG run: it covers the day before (default: today, UTC)",
    )
    parser.add_argument(
        "--dags-folder",
        type=Path,
        default=REPO_DAGS,
        help="folder holding clova_ocr_ingest.py (default: the repository's dags/)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="S",
        help="give up on an Airflow step after S seconds (default %(default)s)",
    )


@dataclass
class _Paths:
    root: Path

    @property
    def bucket(self) -> Path:
        return self.root / "bucket"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def warehouse_uri(self) -> str:
        return f"duckdb:///{self.warehouse}"

    @property
    def config(self) -> Path:
        return self.root / "clova-etl.toml"

    @property
    def airflow_home(self) -> Path:
        return self.root / "airflow"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def inspect(self) -> Path:
        return self.root / "inspect"

    @property
    def env_file(self) -> Path:
        return self.root / "env.sh"


class _Console:
    """Numbered steps and indented progress lines, flushed at once (output may be piped)."""

    def __init__(self, steps: int, out: IO[str]) -> None:
        self.steps = steps
        self.n = 0
        self.out = out

    def step(self, text: str) -> None:
        self.n += 1
        self.line(f"[{self.n}/{self.steps}] {text}", indent="")

    def line(self, text: str = "", indent: str = "      ") -> None:
        for part in text.splitlines() or [""]:
            print(f"{indent}{part}".rstrip(), file=self.out, flush=True)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when everything landed."""
    from clova_etl import progress

    # The demo prints its own steps; progress lines would interleave with them.
    progress.configure("off")
    if not getattr(args, "verbose", False):
        # The steps print their own progress; library INFO logs would repeat it.
        for name in ("clova_etl", "httpx"):
            logging.getLogger(name).setLevel(logging.WARNING)
    console = _Console(5 if args.no_airflow else 6, sys.stdout)
    server: RunningServer | None = None
    try:
        paths = _Paths(args.workdir.resolve())
        day = args.date or datetime.now(UTC).date()
        if not args.no_airflow:
            _require_airflow(args.dags_folder)
        console.line(f"clova-etl demo in {_rel(paths.root)}/", indent="")
        server = _start_server(console, args.engine)
        _write_bucket(console, paths, day)
        _write_config(console, paths, server, args)
        before = server.stats()
        if args.no_airflow:
            _run_in_process(console, paths, server, day)
        else:
            _run_airflow(console, paths, server, day, args)
        _summary(console, paths, before, server.stats())
    except DemoError as exc:
        print(f"clova-etl demo: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("clova-etl demo: interrupted", file=sys.stderr, flush=True)
        return 130
    finally:
        if server is not None:
            server.stop()
    return 0


# -- steps ---------------------------------------------------------------------------------------


def _require_airflow(dags_folder: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("airflow") is None:
        raise DemoError(
            "Apache Airflow is not installed (pip install -e '.[airflow]', or `make demo`); "
            "`clova-etl demo --no-airflow` runs the same steps without it",
            EXIT_SETUP,
        )
    if not (dags_folder / f"{DAG_ID}.py").is_file():
        raise DemoError(
            f"{dags_folder}/{DAG_ID}.py not found: run the demo from a checkout of the "
            "repository, or give --dags-folder",
            EXIT_SETUP,
        )


def _choose_engine(requested: str) -> tuple[str, str]:
    """(engine, why) for ``--engine``."""
    from clova_etl.server.tesseract import tesseract_problem

    if requested == "synthetic":
        return "synthetic", "answers the truth embedded in each sample"
    problem = tesseract_problem()
    if requested == "tesseract":
        if problem:
            raise DemoError(f"the tesseract engine is unavailable: {problem}", EXIT_SETUP)
        return "tesseract", "real OCR"
    if problem:
        return "synthetic", f"tesseract is unavailable ({problem}): answers the embedded truth"
    return "tesseract", "real OCR, installed here"


def _start_server(console: _Console, requested: str) -> RunningServer:
    from clova_etl.server import ServerConfig, start_background

    engine, why = _choose_engine(requested)
    secret = os.environ.get(SECRET_ENV) or secrets.token_urlsafe(18)
    server = start_background(ServerConfig(host="127.0.0.1", port=0, secret=secret, engine=engine))
    console.step(f"local CLOVA OCR server on {server.base_url} (engine {engine}: {why})")
    return server


def _write_bucket(console: _Console, paths: _Paths, day: date) -> None:
    from clova_etl.samples import generate_samples

    generate_samples(paths.samples)
    files: list[tuple[Path, bytes]] = []
    for name, key in BUCKET_LAYOUT.items():
        source = next(p for p in paths.samples.iterdir() if p.stem == name)
        files.append((paths.bucket / key, source.read_bytes()))
    files.append((paths.bucket / BAD_FILE[0], BAD_FILE[1]))
    # Dropped "yesterday" (noon UTC of the day before the logical date): the daily run of
    # `day` covers [day - 1, day).
    stamp = datetime.combine(day - timedelta(days=1), datetime.min.time(), UTC) + timedelta(
        hours=12
    )
    for path, data in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        os.utime(path, (stamp.timestamp(), stamp.timestamp()))
    console.step(
        f"{len(files)} documents in the bucket folder {_rel(paths.bucket)}/inbox/ "
        f"(dropped {stamp:%Y-%m-%d %H:%M} UTC)"
    )
    console.line(
        "general/ (table detection), general/ja/, general/zh-TW/, template/1001/; "
        f"{Path(BAD_FILE[0]).name} is not a scan, on purpose"
    )


def _write_config(
    console: _Console, paths: _Paths, server: RunningServer, args: argparse.Namespace
) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    toml = (
        "# Written by `clova-etl demo`: the demo's pipeline configuration (see the README).\n"
        "# The OCR endpoint is not here: Airflow reads it from the clova_ocr_default connection,\n"
        "# the CLI from CLOVA_OCR_INVOKE_URL / CLOVA_OCR_SECRET.\n\n"
        f'[source]\nuri = "{paths.bucket.as_posix()}"\nprefix = "inbox/"\n\n'
        f'[store]\nuri = "{paths.store.as_posix()}"\n\n'
        f'[warehouse]\nuri = "{paths.warehouse_uri}"\n\n'
        "[run]\nbatch_size = 4\n\n" + ROUTES_TOML
    )
    paths.config.write_text(toml, encoding="utf-8")
    env = _shell_env(paths, args.dags_folder.resolve())
    lines = [
        "# Written by `clova-etl demo`: `source` it to use the demo's Airflow and configuration.",
        *(f"export {k}={shlex.quote(v)}" for k, v in env.items()),
    ]
    paths.env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    console.step(
        f"configuration {_rel(paths.config)} (bucket, store, DuckDB warehouse, routes); "
        f"the endpoint goes in the Airflow connection clova_ocr_default -> {server.base_url}"
    )


def _shell_env(paths: _Paths, dags_folder: Path) -> dict[str, str]:
    """The variables of the demo's Airflow and pipeline (no secret among them)."""
    return {
        "AIRFLOW_HOME": str(paths.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{paths.airflow_home / 'airflow.db'}",
        "CLOVA_ETL_CONFIG": str(paths.config),
    }


def _airflow_env(paths: _Paths, server: RunningServer, dags_folder: Path) -> dict[str, str]:
    import json

    # The demo's Airflow is private: nothing of the caller's Airflow or clova-etl settings leaks
    # in (a real deployment's connection or config must not be used, nor changed).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "CLOVA_ETL_", "CLOVA_OCR_", "CLOVA_AIRFLOW_"))
    }
    env.update(_shell_env(paths, dags_folder))
    env["AIRFLOW_CONN_CLOVA_OCR_DEFAULT"] = json.dumps(
        {
            "conn_type": "clova_ocr",
            "host": server.invoke_url("general"),
            "password": server.secret,
            "extra": {"timeout_seconds": 300},
        }
    )
    return env


def _run_logged(
    cmd: Sequence[str],
    env: dict[str, str],
    log_path: Path,
    *,
    timeout: float,
    on_line: Callable[[str], None] | None = None,
    on_tick: Callable[[], None] | None = None,
) -> int:
    """Run ``cmd`` with its output in ``log_path``; feed new lines and ticks while it runs."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    with log_path.open("wb") as out, log_path.open("rb") as tail:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            list(cmd), stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL
        )
        pending = b""
        try:
            while True:
                done = proc.poll() is not None
                chunk = tail.read()
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if on_line is not None:
                            on_line(line.decode("utf-8", "replace"))
                if on_tick is not None:
                    on_tick()
                if done:
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise DemoError(
                        f"{shlex.join(cmd[2:])} took over {timeout:.0f} s; log: {log_path}"
                    )
                time.sleep(0.25)
        except BaseException:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            raise
        return int(proc.returncode)


def _failure_lines(path: Path, limit: int = 6) -> str:
    """The exceptions a failed run's log shows (else its last lines)."""
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    found: list[str] = []
    for line in text:
        if _EXCEPTION_LINE.match(line) and line not in found:
            found.append(line)
    return "\n".join((found or text)[-limit if found else -15 :])


def _run_airflow(
    console: _Console, paths: _Paths, server: RunningServer, day: date, args: argparse.Namespace
) -> None:
    env = _airflow_env(paths, server, args.dags_folder.resolve())
    airflow = [sys.executable, "-m", "airflow"]
    paths.airflow_home.mkdir(parents=True, exist_ok=True)
    console.step(f"Airflow metadata DB in {_rel(paths.airflow_home)}/ (airflow db migrate)")
    started = time.monotonic()
    migrate_log = paths.logs / "airflow-db-migrate.log"
    rc = _run_logged([*airflow, "db", "migrate"], env, migrate_log, timeout=args.timeout)
    if rc != 0:
        raise DemoError(
            f"airflow db migrate failed (exit {rc}); log: {migrate_log}\n"
            + _failure_lines(migrate_log)
        )
    console.line(f"ready in {time.monotonic() - started:.1f} s")

    console.step(
        f"airflow dags test {DAG_ID} {day} (data interval {day - timedelta(days=1)} -> {day})"
    )
    console.line(f"log: {_rel(paths.logs / 'airflow-dags-test.log')}")
    dag_log = paths.logs / "airflow-dags-test.log"
    progress = _DagProgress(console, server)
    started = time.monotonic()
    rc = _run_logged(
        [*airflow, "dags", "test", DAG_ID, day.isoformat()],
        env,
        dag_log,
        timeout=args.timeout,
        on_line=progress.line,
        on_tick=progress.tick,
    )
    progress.tick(force=True)
    if rc != 0:
        failed = ", ".join(progress.failed) or "see the log"
        raise DemoError(
            f"the DAG run failed (airflow dags test exit {rc}); failed task(s): {failed}; "
            f"log: {dag_log}\n{_failure_lines(dag_log)}"
        )
    console.line(f"DAG run succeeded in {time.monotonic() - started:.1f} s")


class _DagProgress:
    """Task starts from the ``airflow dags test`` output, OCR calls from the server's counters."""

    def __init__(self, console: _Console, server: RunningServer) -> None:
        self.console = console
        self.server = server
        stats = server.stats()
        self.base_calls = int(stats["total_calls"])
        self.base_pages = int(stats["billable_pages"])
        self.seen = (0, 0)
        self.last_poll = 0.0
        self.started: dict[str, float] = {}
        self.state: str | None = None
        self.failed: list[str] = []

    def line(self, text: str) -> None:
        if m := _TASK_START.search(text):
            task = m.group(1) if m.group(2) == "-1" else f"{m.group(1)}[{m.group(2)}]"
            self.started[task] = time.monotonic()
            self.state = None
            self.console.line(f"task {task} ...")
        elif m := _TASK_STATE.search(text):
            self.state = m.group(1)
        elif m := _TASK_END.search(text):
            task = m.group(1) if m.group(2) == "-1" else f"{m.group(1)}[{m.group(2)}]"
            took = time.monotonic() - self.started.get(task, time.monotonic())
            if self.state in (None, "success"):
                self.console.line(f"task {task} done ({took:.1f} s)")
            else:
                self.failed.append(task)
                self.console.line(f"task {task} {self.state.upper()} ({took:.1f} s)")
        elif m := _RUN_NOTE.search(text):
            self.console.line(f"  {m.group(1)}")

    def tick(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_poll < 1.0:
            return
        self.last_poll = now
        stats = self.server.stats()
        seen = (
            int(stats["total_calls"]) - self.base_calls,
            int(stats["billable_pages"]) - self.base_pages,
        )
        if seen != self.seen:
            self.seen = seen
            self.console.line(f"  OCR: {seen[0]} call(s) received, {seen[1]} page(s) read so far")


def _run_in_process(console: _Console, paths: _Paths, server: RunningServer, day: date) -> None:
    from clova_etl.config import load_config
    from clova_etl.pipeline import new_run_id, run_ingest
    from clova_etl.pipeline.errors import PipelineError

    console.step("clova-etl ingest in this process (--no-airflow): the DAG's steps, one by one")
    config = load_config(
        paths.config,
        env={},
        overrides={"ocr": {"invoke_url": server.invoke_url("general"), "secret": server.secret}},
    )
    start = datetime.combine(day - timedelta(days=1), datetime.min.time(), UTC)
    try:
        report = run_ingest(
            config,
            interval_start=start,
            interval_end=start + timedelta(days=1),
            run_id=new_run_id("demo"),
        )
    except PipelineError as exc:
        raise DemoError(f"the ingest failed: {exc}") from exc
    console.line(report.render())


def _summary(
    console: _Console, paths: _Paths, before: dict[str, Any], after: dict[str, Any]
) -> None:
    from clova_etl.config import StoreConfig
    from clova_etl.inspector import build_inspector
    from clova_etl.report import NotAClovaWarehouseError, build_report, render_text
    from clova_etl.warehouse import WarehouseError

    calls = int(after["total_calls"]) - int(before["total_calls"])
    pages = int(after["billable_pages"]) - int(before["billable_pages"])
    try:
        # Every document's pages with their boxes (the samples are file:// sources, read in
        # place), then the report linking to them.
        inspected = build_inspector(paths.warehouse_uri, paths.inspect, storage=None)
        data = build_report(
            paths.warehouse_uri,
            out=paths.report,
            store=StoreConfig(uri=str(paths.store)),
            inspect_href="inspect",
        )
    except (NotAClovaWarehouseError, WarehouseError) as exc:
        raise DemoError(f"cannot read the warehouse {paths.warehouse}: {exc}") from exc
    console.step(f"what landed in {_rel(paths.warehouse)} (schema ocr)")
    if calls == 0:
        console.line(
            "OCR calls this run: 0 - every document was answered before (its response is in "
            "the raw store): a re-run costs nothing"
        )
    else:
        console.line(f"OCR calls this run: {calls} ({pages} page(s) charged by the server)")
    console.line(render_text(data, indent=""))
    console.line()
    console.line("analyst query (more in sql/examples.sql):")
    console.line(_analyst_query(paths), indent="        ")
    console.line()
    console.line(f"report:   {_rel(paths.report)} (open it in a browser)")
    console.line(
        f"inspect:  {_rel(inspected.index)} (each document's pages with the OCR boxes drawn "
        "on them; the report links to them)"
    )
    console.line(f"Airflow:  source {_rel(paths.env_file)}  # then airflow dags list, ... (README)")
    if data.failed_checks:
        raise DemoError(
            "blocking check(s) failed: " + ", ".join(c.name for c in data.failed_checks)
        )


def _analyst_query(paths: _Paths) -> str:
    from clova_etl.report import format_rows
    from clova_etl.warehouse import connect

    with connect(paths.warehouse_uri) as wh:
        table = wh.query(ANALYST_QUERY)
    rows = [list(r.values()) for r in table.to_pylist()]
    return ANALYST_QUERY + ";\n\n" + format_rows(table.column_names, rows)
