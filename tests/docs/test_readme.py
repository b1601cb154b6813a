"""Every command of README.md runs, as written, and does what the README says.

Each runnable block carries a ``<!-- readme-test: scenario=NAME … -->`` marker (see
``tests/docs/readme.py``); the test of that scenario runs its blocks with bash from the folder
the README says (the demo's folder "after `make demo`", or a fresh one). Only what cannot exist
here is substituted, and always by something real: the CLOVA invoke URLs and secrets by a local
OCR server, NCP Object Storage by a moto S3 server, port 8080/8765 by free ports, the
PostgreSQL database `test` by a fresh database on the same server. `make test` cannot run
inside the suite it starts: both make targets are checked with `make -n`, and `clova-etl demo`
(what `make demo` runs after the set-up) runs end to end (the session's ``demo_run``).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.docs.readme import (
    README,
    RUNNABLE,
    SHELLS,
    Block,
    Shell,
    group_gone,
    readme_blocks,
    scenario_blocks,
    substitute,
)
from tests.fixtures.demo import REPO_ROOT, DemoRun
from tests.fixtures.net import free_port

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Scenario -> the test below that runs it.
SCENARIOS = {
    "two-commands": "test_the_two_commands",
    "after-demo": "test_after_the_demo",
    "views": "test_view_queries",
    "airflow-ui": "test_airflow_standalone_ui",
    "postgres": "test_switch_to_postgresql",
    "iceberg": "test_switch_to_iceberg",
    "airflow-connection": "test_airflow_connection_for_a_real_domain",
    "backfill": "test_airflow_backfill",
    "replay": "test_replay_and_force",
    "cli-backfill": "test_cli_backfill",
    "retention": "test_retention",
    "config": "test_configuration_file",
    "clova-domain": "test_real_clova_domain",
    "s3": "test_s3_and_ncp_object_storage",
    "failures": "test_when_things_fail",
    "server": "test_local_server",
    "client-library": "test_client_library",
    "keys": "test_keys_and_uris",
    "analyst": "test_querying_while_loads_run",
    "deployment": "test_deployment_settings_are_the_tested_ones",
    "inspect": "test_inspector_after_the_demo",
    "python-api": "test_python_api_after_the_demo",
}

REAL_GENERAL_URL = "https://abcd1234.apigw.ntruss.com/custom/v1/12345/0123456789abcdef/general"
REAL_TEMPLATE_URL = "https://abcd1234.apigw.ntruss.com/custom/v1/12346/fedcba9876543210/infer"


def shell_script(blocks: list[Block], replacements: dict[str, str] | None = None) -> str:
    """The scenario's foreground shell blocks as one script (substituted)."""
    text = "\n".join(b.text for b in blocks if b.lang in SHELLS and not b.background)
    return substitute(text, replacements or {})


def write_files(blocks: list[Block], cwd: Path, replacements: dict[str, str] | None = None) -> None:
    """Write the scenario's ``file=`` blocks where they say."""
    for b in blocks:
        if "file" in b.options:
            (cwd / b.options["file"]).write_text(substitute(b.text, replacements or {}))


def background_script(blocks: list[Block], replacements: dict[str, str]) -> str:
    found = [b for b in blocks if b.background]
    assert len(found) == 1
    return substitute(found[0].text, replacements)


def sql_statements(block: Block) -> list[str]:
    """The statements of a ``sql`` block, comments removed."""
    text = "\n".join(line for line in block.text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def airflow_db(demo_run: DemoRun) -> sqlite3.Connection:
    return sqlite3.connect(demo_run.workdir / "airflow" / "airflow.db")


def put_samples(root: Path, sample_docs: dict[str, Path]) -> None:
    """Three samples where the default routes take them."""
    layout = {
        "receipt-ko": "inbox/general/receipt-ko.png",
        "invoice-table": "inbox/general/invoice-table.png",
        "claim-form": "inbox/template/1001/claim-form.png",
    }
    for name, key in layout.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(sample_docs[name].read_bytes())


@pytest.fixture
def demo_shell(demo_run: DemoRun) -> Shell:
    """A shell in the folder the demo ran from (the README's "repository root")."""
    return Shell(demo_run.cwd)


# -- the README itself ---------------------------------------------------------------------------


def test_every_runnable_block_names_its_scenario() -> None:
    unmarked = [
        f"README.md:{b.line} ({b.lang})"
        for b in readme_blocks()
        if b.lang in RUNNABLE and b.scenario is None
    ]
    assert unmarked == []
    unknown = [b.lang for b in readme_blocks() if b.lang not in RUNNABLE | {"text"}]
    assert unknown == [], "fenced blocks need a language: a runnable one or text"


def test_every_scenario_of_the_readme_has_its_test() -> None:
    in_readme = {b.scenario for b in readme_blocks() if b.scenario}
    assert in_readme == set(SCENARIOS)
    here = globals()
    assert all(callable(here.get(name)) for name in SCENARIOS.values())


def test_generated_sections_are_current() -> None:
    from clova_etl.report.docs import stale_sections

    assert stale_sections(README.read_text(encoding="utf-8")) == [], (
        "run: python3 -m clova_etl.report.docs"
    )


def test_the_readme_names_every_command_dag_view_and_deployment_variable() -> None:
    from clova_etl.cli import COMMANDS
    from clova_etl.warehouse import VIEWS

    text = README.read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"| `clova-etl {name}" in text, f"CLI table lacks {name}"
    for dag in sorted(p.stem for p in (REPO_ROOT / "dags").glob("*.py")):
        assert f"| `{dag}` |" in text, f"DAG table lacks {dag}"
    for view in VIEWS:
        assert f"`{view.name}`" in text
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for p in [
            *(REPO_ROOT / "clova_etl" / "airflow").glob("*.py"),
            *(REPO_ROOT / "dags").glob("*.py"),
        ]
    )
    for var in sorted(set(re.findall(r"\bCLOVA_AIRFLOW_[A-Z_]+[A-Z]\b", code))):
        assert f"`{var}`" in text, f"README does not document {var}"


def test_the_readme_links_and_paths_exist() -> None:
    text = README.read_text(encoding="utf-8")
    headings = {
        re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.*)$", text, flags=re.M)
    }
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        assert anchor in headings, f"broken link #{anchor}"
    for path in set(re.findall(r"`((?:clova_etl|sql|bench|dags|tests|\.ci)/[\w./-]*\w)`", text)):
        assert (REPO_ROOT / path).exists(), f"README names {path}, which does not exist"


# -- first hour ----------------------------------------------------------------------------------


def test_the_two_commands(demo_run: DemoRun) -> None:
    import subprocess

    commands = [
        line.split("#")[0].split()
        for line in shell_script(scenario_blocks("two-commands")).splitlines()
        if line.strip()
    ]
    assert [c[:2] for c in commands] == [["make", "demo"], ["make", "test"]]
    for _, target in commands:
        dry = subprocess.run(
            ["make", "--no-print-directory", "-n", target],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        # The set-up first, then the command (the only `make -n` check of the suite).
        lines = [line.strip() for line in dry.splitlines() if line.strip()]
        assert "bash .ci/setup" in lines[0]
        assert ("-m clova_etl.cli demo" if target == "demo" else "-m pytest") in lines[-1]
    # What `make demo` runs after the set-up, run for real by the session's demo_run.
    assert "DAG run succeeded" in demo_run.stdout


def test_after_the_demo(demo_shell: Shell) -> None:
    out = demo_shell.ok(shell_script(scenario_blocks("after-demo")))
    for dag in ("clova_ocr_events", "clova_ocr_force", "clova_ocr_ingest", "clova_ocr_replay"):
        assert dag in out
    assert "documents: 9 (8 loaded, 1 rejected)" in out  # clova-etl report --text
    assert "report (whole warehouse): .demo/report.html" in out
    assert "contract-3p.pdf" in out and "line_count" in out  # the DuckDB query's table


def test_inspector_after_the_demo(demo_shell: Shell, demo_run: DemoRun) -> None:
    out = demo_shell.ok(shell_script(scenario_blocks("inspect")))
    assert "9 document(s), 11 page(s)" in out and "1 document(s), 1 page(s)" in out
    # The one document's page joined the folder; the list of all nine stays.
    index = (demo_run.workdir / "inspect" / "index.html").read_text(encoding="utf-8")
    assert index.count("<tr><td>") == 9
    claim = [p for p in (demo_run.workdir / "inspect").glob("claim-form.png-*.html")]
    assert len(claim) == 1 and "☑ fax-checkbox" in claim[0].read_text(encoding="utf-8")
    assert (REPO_ROOT / "docs" / "inspector-claim-form.png").is_file()


def test_python_api_after_the_demo(demo_shell: Shell, demo_run: DemoRun) -> None:
    blocks = scenario_blocks("python-api")
    write_files(blocks, demo_run.cwd)
    out = demo_shell.ok(f"{sys.executable} {blocks[0].options['file']}")
    assert "infer_confidence" in out and "INVOICE" in out
    assert "사무용품" in out and "합계" in out  # the grid
    assert "fax-checkbox" in out and "claim-form.png" in out


def test_view_queries(demo_run: DemoRun) -> None:
    import duckdb

    (block,) = scenario_blocks("views")
    con = duckdb.connect(str(demo_run.workdir / "warehouse.duckdb"), read_only=True)
    try:
        results = [con.execute(sql).fetchall() for sql in sql_statements(block)]
    finally:
        con.close()
    pages, grid, failed = results
    assert len(pages) == 11 and any("합계" in str(r[2]) for r in pages)
    assert len(grid) > 5
    assert [(r[1], r[2]) for r in failed] == [("rejected", "unsupported_format")]


# -- Airflow -------------------------------------------------------------------------------------


@pytest.mark.airflow
def test_airflow_standalone_ui(demo_run: DemoRun) -> None:
    port = free_port()
    blocks = scenario_blocks("airflow-ui")
    script = background_script(blocks, {"8080": str(port)})
    shell = Shell(demo_run.cwd)
    # Not in the README: the log servers' ports, so a busy default cannot collide here.
    shell.env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
    shell.env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
    import httpx

    # Stopped as the README says: Ctrl-C (SIGINT to the group), then SIGTERM to the group.
    with shell.background(
        script,
        ready_url=f"http://127.0.0.1:{port}/api/v2/monitor/health",
        timeout=90,
        stop_timeout=15,
    ) as proc:
        health = httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", trust_env=False)
        assert health.json()["metadatabase"]["status"] == "healthy"
        assert httpx.get(f"http://127.0.0.1:{port}/", trust_env=False).status_code == 200
        passwords = demo_run.workdir / "airflow" / "simple_auth_manager_passwords.json.generated"
        assert "admin" in json.loads(passwords.read_text())
    assert proc.poll() is not None and group_gone(proc.pid), "airflow standalone left processes"
    # Bound to the loopback only: the README's promise.
    assert "AIRFLOW__API__HOST=127.0.0.1" in script


@pytest.mark.airflow
def test_airflow_connection_for_a_real_domain(demo_shell: Shell, demo_run: DemoRun) -> None:
    demo_shell.ok(shell_script(scenario_blocks("airflow-connection")))
    with airflow_db(demo_run) as db:
        rows = dict(
            db.execute(
                "SELECT conn_id, conn_type || ' ' || host FROM connection "
                "WHERE conn_id IN ('clova_ocr_default', 'clova_ocr_template')"
            ).fetchall()
        )
    assert rows == {
        "clova_ocr_default": f"clova_ocr {REAL_GENERAL_URL}",
        "clova_ocr_template": f"clova_ocr {REAL_TEMPLATE_URL}",
    }


@pytest.mark.airflow
def test_airflow_backfill(demo_shell: Shell, demo_run: DemoRun) -> None:
    out = demo_shell.ok(shell_script(scenario_blocks("backfill")), timeout=300)
    assert "(dry run)" in out and "0 discovered" in out  # clova-etl ingest --dry-run
    assert "Performing dry run of backfill." in out and "2024-03-31 00:00:00+00:00" in out
    with airflow_db(demo_run) as db:
        runs = db.execute(
            "SELECT count(*), min(state), max(state) FROM dag_run "
            "WHERE dag_id = 'clova_ocr_ingest' AND run_type = 'backfill'"
        ).fetchone()
        (conf,) = db.execute("SELECT dag_run_conf FROM backfill").fetchone()
        (paused,) = db.execute(
            "SELECT is_paused FROM dag WHERE dag_id = 'clova_ocr_ingest'"
        ).fetchone()
    # Queued for a scheduler, one run per day of March, the shared budget in every run's conf.
    assert runs == (31, "queued", "queued")
    assert json.loads(conf) == {"budget_scope": "backfill-2024-03", "scope_max_calls": 5000}
    assert paused == 0


@pytest.mark.airflow
def test_replay_and_force(demo_shell: Shell, demo_run: DemoRun) -> None:
    out = demo_shell.ok(shell_script(scenario_blocks("replay")))
    assert re.search(r"replay replay__\S+: 9 request\(s\), 0 API calls", out)
    assert re.search(r"replay replay__\S+: 0 request\(s\), 0 API calls", out)
    with airflow_db(demo_run) as db:
        rows = db.execute(
            "SELECT dag_id, state, conf FROM dag_run WHERE dag_id IN "
            "('clova_ocr_replay', 'clova_ocr_force') ORDER BY dag_id"
        ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        ("clova_ocr_force", "queued"),
        ("clova_ocr_replay", "queued"),
    ]
    assert json.loads(rows[0][2]) == {"object_uris": ["inbox/general/receipt-ko.png"]}


def test_retention(demo_shell: Shell) -> None:
    out = demo_shell.ok(shell_script(scenario_blocks("retention")))
    # The demo's runs are minutes old: both passes keep them all.
    found = re.findall(r"(would remove|removed) 0 run folder\(s\).*kept (\d+) recent", out)
    assert [verb for verb, _ in found] == ["would remove", "removed"], out
    assert all(int(kept) >= 1 for _, kept in found)
    assert "DRY RUN" in out


def test_cli_backfill(demo_shell: Shell) -> None:
    out = demo_shell.ok(shell_script(scenario_blocks("cli-backfill")))
    assert len(re.findall(r"^run cli__", out, flags=re.M)) == 3
    assert "interval: [2024-03-03T00:00:00Z, 2024-03-04T00:00:00Z)" in out


@pytest.mark.postgres
def test_switch_to_postgresql(demo_shell: Shell, postgres_uri: str) -> None:
    import psycopg

    name = f"clova_readme_{uuid.uuid4().hex[:10]}"
    admin = postgres_uri
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    uri = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        blocks = scenario_blocks("postgres")
        out = demo_shell.ok(
            shell_script(blocks, {"postgresql://postgres@127.0.0.1:5432/test": uri})
        )
        assert re.search(r"replay replay__\S+: 9 request\(s\), 0 API calls", out)
        assert "OCR requests: 9 (1 rejected, 8 succeeded)" in out  # clova-etl report --text
        # A replay brings the objects' states along (etl_objects), not only the requests.
        assert "documents: 9 (8 loaded, 1 rejected)" in out
        assert re.search(r"succeeded\s+\|\s+8", out) and re.search(r"rejected\s+\|\s+1", out)
        # The view queries of the README run unchanged on PostgreSQL.
        with psycopg.connect(uri) as con:
            results = [
                con.execute(sql).fetchall() for sql in sql_statements(scenario_blocks("views")[0])
            ]
        assert len(results[0]) == 11 and len(results[1]) > 5
    finally:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_switch_to_iceberg(demo_shell: Shell) -> None:
    blocks = [b for b in scenario_blocks("iceberg") if "skip-reason" not in b.options]
    out = demo_shell.ok(shell_script(blocks))
    assert re.search(r"replay replay__\S+: 9 request\(s\), 0 API calls", out)
    assert "keys_unique [blocking] pass" in out  # clova-etl check, over the Iceberg scans
    assert "OCR requests: 9 (1 rejected, 8 succeeded)" in out  # clova-etl report --text
    assert "documents: 9 (8 loaded, 1 rejected)" in out
    assert re.search(r"ocr_requests: data files \d+ -> \d+", out)  # clova-etl maintain
    assert (demo_shell.cwd / "iceberg-report.html").is_file()
    namespace = demo_shell.cwd / "data" / "iceberg" / "files" / "ocr"
    tables = {p.relative_to(namespace).parts[0] for p in namespace.rglob("*.parquet")}
    assert tables >= {"ocr_requests", "ocr_fields", "etl_objects"}


# -- configuration -------------------------------------------------------------------------------


def test_configuration_file(tmp_path: Path) -> None:
    from clova_etl.config import load_config

    blocks = scenario_blocks("config")
    write_files(blocks, tmp_path)
    config = load_config(tmp_path / "clova-etl.toml", env={})
    assert [r.name for r in config.routes] == ["general", "template"]
    assert config.budget.max_calls_per_run == 1000
    assert config.ocr.rate_limit_per_second == 5.0
    assert config.warehouse.uri == "duckdb:///data/warehouse.duckdb"
    # Every key the README's file sets is a real setting: the same file without the routes
    # equals the defaults except for what it sets.
    assert config.source.uri == "data/bucket" and config.store.uri == "data/store"


def test_keys_and_uris(tmp_path: Path) -> None:
    import subprocess
    import sys

    from clova_etl.pipeline.storage import Storage

    write_files(scenario_blocks("keys"), tmp_path)
    subprocess.run([sys.executable, str(tmp_path / "uri_key.py")], check=True, timeout=60)
    # The pipeline writes source_uri by the same rule the README shows.
    bucket = Storage(None, "scans", protocol="s3")
    assert bucket.uri_for("inbox/general/a%20b .png") == "s3://scans/inbox/general/a%2520b%20.png"
    assert bucket.key_for("s3://scans/inbox/general/a%2520b%20.png") == "inbox/general/a%20b .png"


def test_querying_while_loads_run(fresh_shell: Shell) -> None:
    import duckdb

    from clova_etl.warehouse import connect

    data = fresh_shell.cwd / "data"
    data.mkdir()
    warehouse = data / "warehouse.duckdb"
    with connect(f"duckdb:///{warehouse}") as wh:
        wh.ensure_schema()
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "INSERT INTO ocr.etl_objects (source_uri, source_sha256, status) "
            "VALUES ('s3://b/a.png', 'x', 'loaded')"
        )
    out = fresh_shell.ok(shell_script(scenario_blocks("analyst")))
    assert "[('loaded', 1)]" in out and "[(1,)]" in out
    # Neither recipe leaves the file held: a load opens it at once.
    started = time.monotonic()
    with connect(f"duckdb:///{warehouse}", lock_wait_seconds=0):
        pass
    assert time.monotonic() - started < 30  # a loaded machine opens it slowly, not after a wait


@pytest.fixture
def local_domain(start_ocr_server: Callable[..., Any]) -> Any:
    """A private local OCR server standing in for a real CLOVA domain."""
    return start_ocr_server()


def test_real_clova_domain(tmp_path: Path, local_domain: Any, sample_docs: dict[str, Path]) -> None:
    import duckdb

    write_files(scenario_blocks("config"), tmp_path)
    put_samples(tmp_path / "data" / "bucket", sample_docs)
    replacements = {
        REAL_GENERAL_URL: local_domain.invoke_url("general"),
        REAL_TEMPLATE_URL: local_domain.invoke_url("template"),
        "your-secret-key": local_domain.secret,
        "your-template-secret-key": local_domain.secret,
    }
    out = Shell(tmp_path).ok(shell_script(scenario_blocks("clova-domain"), replacements))
    assert "to send: 3 calls / 3 pages" in out
    assert "calls: 3 sent (3 succeeded, 0 failed, 0 transient)" in out
    # The forced re-OCR of one document: exactly one more paid call.
    assert "calls: 1 sent (1 succeeded, 0 failed, 0 transient)" in out
    assert local_domain.stats()["billable_calls"] == 4
    con = duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True)
    try:
        templates = con.execute(
            "SELECT DISTINCT matched_template_id FROM ocr.template_fields"
        ).fetchall()
    finally:
        con.close()
    assert templates == [(1001,)]  # the template domain's URL answered


def test_s3_and_ncp_object_storage(
    tmp_path: Path, moto_s3: Any, sample_docs: dict[str, Path]
) -> None:
    client = moto_s3.client()
    source, store = f"scans-{uuid.uuid4().hex[:8]}", f"store-{uuid.uuid4().hex[:8]}"
    for bucket in (source, store):
        client.create_bucket(Bucket=bucket)
    staging = tmp_path / "staging"
    put_samples(staging, sample_docs)
    for path in staging.rglob("*.png"):
        client.put_object(Bucket=source, Key=str(path.relative_to(staging)), Body=path.read_bytes())
    replacements = {
        "https://kr.object.ncloudstorage.com": moto_s3.endpoint_url,
        "s3://scans-ocr-store": f"s3://{store}",
        "s3://scans": f"s3://{source}",
        "kr-standard": moto_s3.region,
        "your-ncp-access-key": moto_s3.key,
        "your-ncp-secret-key": moto_s3.secret,
    }
    blocks = scenario_blocks("s3")
    write_files(blocks, tmp_path, replacements)
    out = Shell(tmp_path).ok(shell_script(blocks, replacements))
    assert "(dry run)" in out
    assert "objects: 3 discovered, 3 planned, 0 rejected" in out
    assert "to send: 3 calls / 3 pages" in out


# -- the command line, failures, the local server --------------------------------------------------


@pytest.fixture
def fresh_shell(tmp_path: Path) -> Shell:
    return Shell(tmp_path)


def test_when_things_fail(fresh_shell: Shell) -> None:
    port = str(free_port())
    blocks = scenario_blocks("failures")
    with fresh_shell.background(
        background_script(blocks, {"8765": port}), ready_url=f"http://127.0.0.1:{port}/_health"
    ):
        proc = fresh_shell.run(shell_script(blocks, {"8765": port}), errexit=False)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr  # the last command: echo "exit $?"
    assert "STOPPED (budget): budget reached: max_calls_per_run=2" in out
    assert "STOPPED (quota): CLOVA quota exhausted (0023)" in out
    assert out.count("exit 3") == 2
    assert "configuration error: CLOVA refused the endpoint configuration: [0002]" in proc.stderr
    assert "exit 2" in out
    assert "rejected: empty_file=1" in out
    assert "empty-scan.png: empty_file: object is empty (0 bytes)" in out  # report --text
    assert "confidence_range [blocking] fail" in out
    assert "1 blocking check(s) failed: confidence_range" in out and "exit 1" in out
    assert (fresh_shell.cwd / "try" / "report.html").is_file()


@pytest.mark.tesseract
def test_local_server(fresh_shell: Shell) -> None:
    from clova_etl.server.tesseract import tesseract_problem

    problem = tesseract_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"tesseract is unavailable in CI: {problem}")
        pytest.skip(problem)
    port = str(free_port())
    blocks = scenario_blocks("server")
    with fresh_shell.background(
        background_script(blocks, {"8765": port}), ready_url=f"http://127.0.0.1:{port}/_health"
    ):
        out = fresh_shell.ok(shell_script(blocks, {"8765": port}))
    answer, stats = (json.loads(line) for line in out.strip().splitlines()[-2:])
    image = answer["images"][0]
    assert image["inferResult"] == "SUCCESS"
    assert any("합계" in f["inferText"] for f in image["fields"])
    assert stats["total_calls"] == 1 and stats["billable_pages"] == 1


def test_client_library(tmp_path: Path, local_domain: Any, sample_dir: Path) -> None:
    (tmp_path / "samples").symlink_to(sample_dir)
    blocks = scenario_blocks("client-library")
    write_files(blocks, tmp_path)
    shell = Shell(tmp_path)
    shell.env["CLOVA_OCR_INVOKE_URL"] = local_domain.invoke_url("general")
    shell.env["CLOVA_OCR_SECRET"] = local_domain.secret
    out = shell.ok(f"{sys.executable} {blocks[0].options['file']}")
    assert "합계" in out and "20,970" in out


def test_every_command_named_by_the_readme_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from clova_etl.cli import COMMANDS, main

    for name in COMMANDS:  # `clova-etl COMMAND --help documents every flag`
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert f"usage: clova-etl {name}" in capsys.readouterr().out


# -- deploying on a real Airflow ------------------------------------------------------------------


def test_deployment_settings_are_the_tested_ones(tmp_path: Path) -> None:
    """The deployment blocks cannot run here as written (several services, long-running); the
    deployment test (tests/deployment) starts the same components with the same settings."""
    from tests.deployment.cluster import Cluster

    blocks = scenario_blocks("deployment")
    assert blocks and all("skip-reason" in b.options for b in blocks)
    script = shell_script(blocks)
    exported = set(re.findall(r"^export (AIRFLOW__\w+)=", script, flags=re.M))
    tested = set(Cluster(tmp_path).env)
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC" in exported
    assert exported - tested == set(), "the README sets what the deployment test does not"
    # The install: the newest pip, then the constraints file, as .ci/setup does.
    setup = (REPO_ROOT / ".ci" / "setup").read_text(encoding="utf-8")
    assert "-m pip install --quiet --upgrade pip" in setup
    assert '-c "$CONSTRAINTS"' in setup and "constraints-${PYVER}.txt" in setup
    assert "pip install --upgrade pip" in script
    assert "-c constraints/constraints-3.11.txt" in script
    assert (REPO_ROOT / "constraints" / "constraints-3.11.txt").is_file()
    for command in [
        "airflow pools set clova_ocr 4",
        "airflow api-server",
        "airflow scheduler",
        "airflow dag-processor",
        "airflow triggerer",
        "airflow celery worker --concurrency 2 --celery-hostname",
    ]:
        assert command in script, command
    # A chosen day is given by the ingest DAG's own params.
    match = re.search(r"--conf '([^']+)'", script)
    assert match is not None
    conf = json.loads(match.group(1))
    dag_source = (REPO_ROOT / "dags" / "clova_ocr_ingest.py").read_text(encoding="utf-8")
    assert set(conf) == {"from_date", "to_date"}
    assert all(f'"{name}": Param(' in dag_source for name in conf)
