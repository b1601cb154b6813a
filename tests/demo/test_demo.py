"""``clova-etl demo`` (what ``make demo`` runs) end to end, as a user runs it.

The session's ``demo_run`` starts the real local OCR server (tesseract when installed), writes
the samples into ``.demo/bucket``, runs ``airflow dags test clova_ocr_ingest`` in a subprocess
with its own AIRFLOW_HOME, and reads the DuckDB warehouse; these tests check what it printed and
what it left behind, then run it again (zero OCR calls) and through its other paths.
"""

from __future__ import annotations

import re
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.demo import DemoRun, run_demo

pytestmark = [pytest.mark.slow]


def query(workdir: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` in the demo's warehouse, opened read-only."""
    import duckdb

    con = duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True)
    try:
        return [tuple(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def files_containing(root: Path, needle: bytes) -> list[Path]:
    """Every file under ``root`` whose bytes contain ``needle``."""
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.airflow
def test_demo_runs_the_dag_through_airflow_and_prints_what_landed(demo_run: DemoRun) -> None:
    out = demo_run.stdout
    for step in range(1, 7):
        assert f"[{step}/6]" in out
    assert re.search(
        r"local CLOVA OCR server on http://127\.0\.0\.1:\d+ \(engine (tesseract|synthetic)", out
    )
    assert "airflow dags test clova_ocr_ingest" in out
    assert "task discover ..." in out and "task load done" in out and "task finish done" in out
    assert "DAG run succeeded" in out
    assert "OCR calls this run: 8 (11 page(s) charged by the server)" in out
    assert "documents: 9 (8 loaded, 1 rejected)" in out
    assert "rejected file://" in out and "scan-notes.txt: unsupported_format" in out
    assert "checks of the latest load: " in out and ", 0 fail" in out
    assert "field_name" in out and "claim-no" in out  # the analyst query and its rows
    assert demo_run.stderr.strip() == "", demo_run.stderr

    work = demo_run.workdir
    statuses = dict(query(work, "SELECT status, count(*) FROM ocr.etl_objects GROUP BY 1"))
    assert statuses == {"loaded": 8, "rejected": 1}
    assert query(work, "SELECT count(*) FROM ocr.ocr_images") == [(11,)]
    assert query(work, "SELECT count(*) > 0 FROM ocr.ocr_fields") == [(True,)]
    # The routes: the invoice's table detected, the claim form matched to template 1001, the
    # Japanese notice sent with lang ja.
    assert query(work, "SELECT count(*) > 0 FROM ocr.table_grid") == [(True,)]
    assert query(
        work,
        "SELECT api, template_ids FROM ocr.ocr_requests WHERE source_uri LIKE '%claim-form.png'",
    ) == [("template", "1001")]
    assert query(work, "SELECT DISTINCT matched_template_id FROM ocr.template_fields") == [(1001,)]
    assert query(
        work, "SELECT lang FROM ocr.ocr_requests WHERE source_uri LIKE '%notice-ja.png'"
    ) == [("ja",)]
    failed = query(
        work,
        "SELECT count(*) FROM ocr.etl_check_results WHERE status = 'fail'",
    )
    assert failed == [(0,)]
    # The Airflow run wrote them: its run id is the DAG's.
    assert query(
        work, "SELECT DISTINCT run_id LIKE 'clova_ocr_ingest__manual__%' FROM ocr.etl_loads"
    ) == [(True,)]

    report = (work / "report.html").read_text(encoding="utf-8")
    assert "<h1>clova-etl report</h1>" in report and "scan-notes.txt" in report
    # The inspector: a page per document, each with its page images; the report links to them.
    assert "inspect:  .demo/inspect/index.html" in out
    pages = sorted((work / "inspect").glob("*.html"))
    assert len(pages) == 10  # 9 documents and the index
    for link in re.findall(r'href="(inspect/[^"]+)"', report):
        assert (work / link).is_file(), link
    invoice = next(p for p in pages if p.name.startswith("invoice-table.png"))
    assert "<image href=" in invoice.read_text(encoding="utf-8")
    env_sh = (work / "env.sh").read_text(encoding="utf-8")
    assert f"export AIRFLOW_HOME={work / 'airflow'}" in env_sh
    assert f"export CLOVA_ETL_CONFIG={work / 'clova-etl.toml'}" in env_sh
    assert (work / "logs" / "airflow-dags-test.log").is_file()


@pytest.mark.airflow
def test_the_demo_secret_is_nowhere_it_left_anything(demo_run: DemoRun) -> None:
    secret = demo_run.secret.encode()
    assert secret not in demo_run.stdout.encode() and secret not in demo_run.stderr.encode()
    # Store (bronze, Parquet, ledger), warehouse, report, logs, Airflow home (DB, task logs).
    assert files_containing(demo_run.workdir, secret) == []


@pytest.mark.airflow
def test_running_the_demo_again_makes_no_ocr_call(demo_run: DemoRun) -> None:
    before = query(demo_run.workdir, "SELECT count(*) FROM ocr.ocr_fields")
    loads = query(demo_run.workdir, "SELECT count(*) FROM ocr.etl_loads")[0][0]
    again = run_demo(demo_run.cwd, demo_run.secret)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "OCR calls this run: 0 - every document was answered before" in again.stdout
    assert "8 already in the raw store (free), 0 to send" in again.stdout
    assert "documents: 9 (8 loaded, 1 rejected)" in again.stdout
    # The DAG ran and loaded again: the same rows, one more load.
    assert query(demo_run.workdir, "SELECT count(*) FROM ocr.ocr_fields") == before
    assert query(demo_run.workdir, "SELECT count(*) FROM ocr.etl_loads")[0][0] == loads + 1


def test_demo_without_airflow_runs_the_same_steps_in_process(tmp_path: Path) -> None:
    workdir = tmp_path / "w"
    args = ("--no-airflow", "--engine", "synthetic", "--workdir", str(workdir))
    first = run_demo(tmp_path, "s-" + uuid.uuid4().hex, *args, timeout=180)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "[5/5] what landed" in first.stdout
    assert "engine synthetic" in first.stdout
    assert "OCR calls this run: 8" in first.stdout
    assert "documents: 9 (8 loaded, 1 rejected)" in first.stdout
    second = run_demo(tmp_path, "s-" + uuid.uuid4().hex, *args, timeout=180)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "OCR calls this run: 0" in second.stdout
    assert (workdir / "report.html").is_file()
    assert (workdir / "inspect" / "index.html").is_file()
    assert len(list((workdir / "inspect" / "images").iterdir())) == 11  # every page


def test_demo_names_what_is_missing(tmp_path: Path) -> None:
    missing = tmp_path / "no-dags"
    run = run_demo(tmp_path, "s", "--workdir", str(tmp_path / "w"), "--dags-folder", str(missing))
    # run_demo passes the repository's dags first; the later flag wins.
    assert run.returncode == 2
    assert f"{missing}/clova_ocr_ingest.py not found" in run.stderr
    assert not (tmp_path / "w").exists()


@pytest.mark.airflow
def test_a_failing_dag_run_fails_the_demo_with_the_task_and_its_log(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "clova_ocr_ingest.py").write_text(
        textwrap.dedent(
            """
            import pendulum
            from airflow.sdk import dag, task

            @dag(dag_id="clova_ocr_ingest", schedule=None,
                 start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
            def broken():
                @task(retries=0)
                def discover():
                    raise RuntimeError("the bucket is on fire")

                discover()

            broken()
            """
        )
    )
    run = run_demo(
        tmp_path,
        "s",
        "--workdir",
        str(tmp_path / "w"),
        "--engine",
        "synthetic",
        "--dags-folder",
        str(dags),
        timeout=300,
    )
    assert run.returncode == 1
    assert "the DAG run failed (airflow dags test exit 1)" in run.stderr
    assert str(tmp_path / "w" / "logs" / "airflow-dags-test.log") in run.stderr
    assert "the bucket is on fire" in run.stderr
    assert "failed task(s): discover" in run.stderr
    assert "task discover FAILED" in run.stdout
