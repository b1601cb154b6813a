"""The DAG files: they import clean, have the promised shape, and do no I/O while parsed."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fixtures.airflow import DAGS_FOLDER

pytestmark = pytest.mark.airflow

DAG_IDS = {"clova_ocr_ingest", "clova_ocr_replay", "clova_ocr_force", "clova_ocr_events"}


@pytest.fixture(scope="module")
def dagbag(airflow_home: Path):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_dagbag_imports_clean(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS
    for dag_id in DAG_IDS:
        dag = dagbag.get_dag(dag_id)
        assert "clova-ocr" in dag.tags
        assert dag.doc_md, f"{dag_id} has no documentation"


def test_ingest_shape(dagbag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import CronDataIntervalTimetable

    from clova_etl.airflow import ClovaOCROperator

    dag = dagbag.get_dag("clova_ocr_ingest")
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    ocr = dag.get_task("ocr")
    # One mapped task over batches, not one task per file.
    assert ocr.is_mapped and ocr.operator_class is ClovaOCROperator
    order = ["discover", "ocr", "flatten", "load", "finish"]
    for up, down in itertools.pairwise(order):
        assert down in dag.get_task(up).downstream_task_ids, (up, down)
    assert {"dry_run", "max_calls", "budget_scope", "clova_ocr_conn_id"} <= set(dag.params)


def test_events_dag_watches_the_inbox_asset(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.get_dag("clova_ocr_events")
    (asset,) = dag.timetable.asset_condition.objects
    assert asset.name == "clova_ocr_inbox"
    assert asset.watchers == []  # no queue configured in this environment


def test_inbox_asset_is_watched_through_sqs_when_a_queue_is_set(airflow_home: Path) -> None:
    from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger

    from clova_etl.airflow.events import inbox_asset

    queue = "http://127.0.0.1:1/123456789012/inbox-events"
    asset = inbox_asset(
        {"CLOVA_AIRFLOW_EVENTS_QUEUE_URL": queue, "CLOVA_AIRFLOW_EVENTS_AWS_CONN_ID": "s3"}
    )
    (watcher,) = asset.watchers
    assert isinstance(watcher.trigger, SqsSensorTrigger)
    assert watcher.trigger.sqs_queue == queue and watcher.trigger.aws_conn_id == "s3"


def test_replay_never_needs_the_ocr_connection(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.get_dag("clova_ocr_replay")
    assert "clova_ocr_conn_id" not in dag.params
    assert dag.schedule is None or dag.timetable.summary == "None"


# Run in a fresh interpreter. Pass 1 executes every DAG file and records which modules it
# imported (Airflow's own lazy imports included, but only ours and the heavy data libraries are
# looked at). Pass 2 shuts every I/O door (files, sockets, Variables, Connections) and executes
# the files again: with Airflow's lazy imports now cached, any attempt is the DAG code's own.
_PARSE_PROBE = textwrap.dedent(
    """
    import builtins, io, json, os, socket, sys
    from airflow.sdk import BaseHook, Variable

    sources = {p: open(p).read() for p in sys.argv[1:]}

    def parse():
        for path, src in sources.items():
            exec(compile(src, path, "exec"), {"__name__": "dag_under_test", "__file__": path})

    before = set(sys.modules)
    parse()
    heavy = sorted(
        m for m in set(sys.modules) - before
        if m.split(".")[0] in {"pyarrow", "duckdb", "psycopg", "adbc_driver_postgresql", "s3fs",
                                "pandas", "pypdfium2", "PIL", "orjson"}
        or (m.startswith("clova_etl.") and not m.startswith("clova_etl.airflow"))
    )

    attempts = []
    def shut(name):
        def refuse(*a, **k):
            attempts.append(name)
            raise RuntimeError(f"I/O at parse time: {name}")
        return refuse

    builtins.open = io.open = shut("open")
    os.listdir = os.scandir = shut("listdir")
    socket.socket.connect = shut("socket.connect")
    socket.create_connection = shut("socket.create_connection")
    Variable.get = staticmethod(shut("Variable.get"))
    BaseHook.get_connection = classmethod(shut("BaseHook.get_connection"))
    parse()
    print(json.dumps({"attempts": attempts, "heavy": heavy}))
    """
)


@pytest.mark.parametrize("queue_url", [None, "http://127.0.0.1:1/123456789012/inbox-events"])
def test_dag_files_do_no_io_and_no_heavy_imports_at_parse_time(
    airflow_home: Path, queue_url: str | None
) -> None:
    env = dict(os.environ)
    env.pop("CLOVA_AIRFLOW_EVENTS_QUEUE_URL", None)
    if queue_url:
        env["CLOVA_AIRFLOW_EVENTS_QUEUE_URL"] = queue_url
    files = sorted(str(p) for p in DAGS_FOLDER.glob("*.py"))
    proc = subprocess.run(
        [sys.executable, "-c", _PARSE_PROBE, *files],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"attempts": [], "heavy": []}
