"""clova_ocr_ingest: scheduled discovery → OCR in mapped batches → flatten → load → checks.

Each run covers its data interval ``[data_interval_start, data_interval_end)``: objects whose
last-modified time falls in it are planned, split into batches (``run.batch_size``) and OCR'd by
one mapped ``ClovaOCROperator`` task per batch. Every request is keyed by its deterministic
``request_id`` and claimed in the raw store, so task retries, re-runs, backfills over the same
days and two workers racing make no extra API call.

Params (all optional when scheduled):

- ``dry_run``: plan and price the interval, send nothing;
- ``from_date`` / ``to_date``: replace the data interval (e.g. price a whole backfill range in
  one dry run);
- ``max_calls`` / ``max_pages``: this run's budget (default: ``budget.*_per_run`` of the config);
- ``budget_scope`` with ``scope_max_calls`` / ``scope_max_pages``: a budget shared by every run
  naming the same scope (a backfill: ``airflow backfill create … --dag-run-conf``);
- ``config_overrides``: nested config values for this run only;
- ``clova_ocr_conn_id`` / ``clova_ocr_template_conn_id``: Airflow connections of the endpoints.

Configuration comes from the Airflow Variable ``clova_etl_config`` (JSON, or the path of a TOML
file), else ``$CLOVA_ETL_CONFIG``; see ``clova_etl.airflow.runtime``. The schedule and start date
come from ``CLOVA_AIRFLOW_SCHEDULE`` / ``CLOVA_AIRFLOW_START_DATE`` (environment, read without
I/O). This file does no I/O and imports nothing heavy at parse time.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from clova_etl.airflow.params import common_params, ocr_params
from clova_etl.airflow.policy import default_args
from clova_etl.airflow.taskflow import ocr_flatten_load

SCHEDULE = os.environ.get("CLOVA_AIRFLOW_SCHEDULE", "@daily")
START_DATE = datetime.fromisoformat(
    os.environ.get("CLOVA_AIRFLOW_START_DATE", "2024-01-01")
).replace(tzinfo=UTC)


@dag(
    dag_id="clova_ocr_ingest",
    schedule=CronDataIntervalTimetable(SCHEDULE, timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    # One run at a time keeps the OCR rate limit and the budgets meaningful; a backfill may raise
    # it with --max-active-runs (concurrent runs stay correct: requests are claimed).
    max_active_runs=1,
    default_args=default_args(),
    params={
        "dry_run": Param(False, type="boolean", description="Plan and price only; no calls."),
        "from_date": Param(None, type=["null", "string"], description="ISO start (inclusive)."),
        "to_date": Param(None, type=["null", "string"], description="ISO end (exclusive)."),
        **ocr_params(),
        **common_params(),
    },
    tags=["clova-ocr"],
    doc_md=__doc__,
)
def clova_ocr_ingest() -> None:
    """Discover the interval's objects, OCR them in batches, flatten, load and check."""

    @task
    def discover() -> list[dict[str, Any]]:
        from clova_etl.airflow import runtime

        return runtime.discover()

    ocr_flatten_load(discover())


clova_ocr_ingest()
