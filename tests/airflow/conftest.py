"""A deployment for DAG runs: local OCR server, moto bucket, warehouse, Airflow config via env.

``deployment(...)`` points the clova_ocr DAGs at a private local OCR server (through the
``clova_ocr_default`` connection), a fresh moto bucket (source ``inbox/`` and store ``store/``)
and a warehouse, all through the environment exactly as a deployment would: the Airflow Variable
``clova_etl_config`` (JSON) and ``AIRFLOW_CONN_CLOVA_OCR_DEFAULT``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.fixtures.airflow import DAGS_FOLDER

# Where each sample goes in the bucket (the default routes: general/…, template/{id}/…).
SAMPLE_KEYS = {
    "receipt-ko": "inbox/general/receipt-ko.png",
    "invoice-table": "inbox/general/invoice-table.png",
    "contract-3p": "inbox/general/contract-3p.pdf",
    "claim-form": "inbox/template/1001/claim-form.png",
}


@dataclass
class Deployment:
    """Everything one test's DAG runs talk to."""

    server: Any
    bucket: Any
    warehouse_uri: str
    config: dict[str, Any]
    sample_docs: dict[str, Path]
    baseline: dict[str, int] = field(default_factory=dict)

    def put(self, name: str, key: str | None = None, *, at: datetime | None = None) -> str:
        """Upload a sample (optionally with a past LastModified); return its key."""
        key = key or SAMPLE_KEYS[name]
        data = self.sample_docs[name].read_bytes()
        if at is None:
            self.bucket.put(key, data)
        else:
            # moto stamps LastModified with its clock; real objects of past days have past stamps.
            with mock.patch("moto.s3.models.utcnow", return_value=at.replace(tzinfo=None)):
                self.bucket.put(key, data)
        return key

    def calls(self) -> dict[str, int]:
        """Calls the server received, by request id."""
        return dict(self.server.stats()["calls_by_request_id"])

    def total_calls(self) -> int:
        """Every call the server received (billable or not)."""
        return int(self.server.stats()["total_calls"])

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` in the warehouse (schema ``ocr``)."""
        if self.warehouse_uri.startswith("duckdb"):
            import duckdb

            con = duckdb.connect(self.warehouse_uri.removeprefix("duckdb:///"), read_only=True)
            try:
                return [tuple(r) for r in con.execute(sql).fetchall()]
            finally:
                con.close()
        import psycopg

        with psycopg.connect(self.warehouse_uri) as con:
            return [tuple(r) for r in con.execute(sql).fetchall()]


@pytest.fixture
def get_dag(airflow_home: Path) -> Callable[[str], Any]:
    """``get_dag(dag_id)``: the DAG freshly parsed from ``dags/``, with task retries off.

    Fresh for every run: in-process task runs (dag.test) write a run's conf into the DAG's
    shared Param objects (``process_params`` updates them in place), so a DAG object reused
    for a second run would inherit the first run's params. Real workers parse anew per task.
    dag.test() waits out retry delays, so retries are off unless a test turns them on.
    """
    from airflow.dag_processing.dagbag import DagBag

    def get(dag_id: str) -> Any:
        bag = DagBag(dag_folder=str(DAGS_FOLDER / f"{dag_id}.py"))
        assert bag.import_errors == {}
        dag = bag.get_dag(dag_id)
        for t in dag.tasks:
            t.retries = 0
        return dag

    return get


@pytest.fixture
def deployment(
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    start_ocr_server: Callable[..., Any],
    s3_bucket: Any,
    sample_docs: dict[str, Path],
    tmp_path: Path,
) -> Iterator[Callable[..., Deployment]]:
    """Factory: ``deployment(server={ServerConfig fields}, config={nested overrides}, ...)``."""

    def make(
        *,
        server: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        warehouse_uri: str | None = None,
        conn_extra: dict[str, Any] | None = None,
    ) -> Deployment:
        ocr = start_ocr_server(**(server or {}))
        storage = {
            "endpoint_url": s3_bucket.server.endpoint_url,
            "region_name": s3_bucket.server.region,
            "key": s3_bucket.server.key,
            "secret": s3_bucket.server.secret,
        }
        wh = warehouse_uri or f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        cfg: dict[str, Any] = {
            "source": {"uri": s3_bucket.uri(), "prefix": "inbox/", **storage},
            "store": {"uri": s3_bucket.uri("store"), **storage},
            "warehouse": {"uri": wh},
            "run": {"batch_size": 2},
        }
        for section, values in (config or {}).items():
            cfg.setdefault(section, {}).update(values)
        monkeypatch.setenv("AIRFLOW_VAR_CLOVA_ETL_CONFIG", json.dumps(cfg))
        monkeypatch.setenv(
            "AIRFLOW_CONN_CLOVA_OCR_DEFAULT",
            json.dumps(
                {
                    "conn_type": "clova_ocr",
                    "host": ocr.invoke_url("general"),
                    "password": ocr.secret,
                    "extra": {"max_retries": 2, **(conn_extra or {})},
                }
            ),
        )
        # The template domain is another invoke URL of the same server.
        monkeypatch.setenv(
            "AIRFLOW_CONN_CLOVA_OCR_TEMPLATE",
            json.dumps(
                {
                    "conn_type": "clova_ocr",
                    "host": ocr.invoke_url("template"),
                    "password": ocr.secret,
                }
            ),
        )
        return Deployment(ocr, s3_bucket, wh, cfg, sample_docs)

    yield make


def run_dag(dag: Any, logical_date: datetime, **conf: Any) -> Any:
    """``dag.test()`` for one logical date; returns the DagRun (its state is not asserted)."""
    return dag.test(logical_date=logical_date, run_conf=conf or None)


def xcom_values(run: Any, task_id: str | None = None, key: str = "return_value") -> list[Any]:
    """XCom values a run pushed (all tasks when ``task_id`` is None), in map-index order."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(XComModel).where(XComModel.dag_id == run.dag_id, XComModel.run_id == run.run_id)
    if task_id is not None:
        query = query.where(XComModel.task_id == task_id, XComModel.key == key)
    with create_session() as session:
        rows = session.scalars(query.order_by(XComModel.task_id, XComModel.map_index)).all()
        return [XComModel.deserialize_value(r) for r in rows]


def rendered_fields(run: Any) -> list[Any]:
    """Every rendered template field stored for the run's task instances."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(RTIF).where(RTIF.dag_id == run.dag_id, RTIF.run_id == run.run_id)
        ).all()
        return [r.rendered_fields for r in rows]


def task_states(run: Any) -> dict[str, str]:
    """Final state by task id (mapped tasks as ``task[i]``)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id
            )
        ).all()
        return {
            (t.task_id if t.map_index < 0 else f"{t.task_id}[{t.map_index}]"): str(t.state)
            for t in tis
        }


@pytest.fixture
def pg_warehouse_uri() -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1:5432 for one test, dropped afterwards."""
    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"PostgreSQL is unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL is unreachable: {exc}")
    name = f"clova_airflow_{uuid.uuid4().hex[:10]}"
    with conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
