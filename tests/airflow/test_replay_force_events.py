"""clova_ocr_replay (zero calls), clova_ocr_force (pays once per forced request) and the
event-driven clova_ocr_events path, each with dag.test() against the local server and moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from tests.airflow.conftest import run_dag, task_states, xcom_values

pytestmark = pytest.mark.airflow

D1 = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _ingest(get_dag: Any, dep: Any, *names: str) -> dict[str, int]:
    for name in names:
        dep.put(name, at=D1 + timedelta(hours=2))
    run = run_dag(get_dag("clova_ocr_ingest"), D1 + DAY)
    assert run.state == "success"
    return dep.calls()


def _count(dep: Any, table: str) -> int:
    return int(dep.query(f"SELECT count(*) FROM ocr.{table}")[0][0])


def test_replay_rebuilds_rows_from_the_raw_store_with_zero_calls(
    get_dag: Any, deployment: Any
) -> None:
    dep = deployment()
    calls = _ingest(get_dag, dep, "receipt-ko", "invoice-table")
    fields, cells = _count(dep, "ocr_fields"), _count(dep, "ocr_table_cells")
    assert fields > 0 and cells > 0
    total = dep.total_calls()

    # By request ids.
    run = run_dag(get_dag("clova_ocr_replay"), D1, request_ids=sorted(calls))
    assert run.state == "success"
    (result,) = xcom_values(run, "replay")
    assert result["request_ids"] == 2
    # By the days the responses were stored (today, UTC).
    today = datetime.now(UTC).date().isoformat()
    run = run_dag(get_dag("clova_ocr_replay"), D1, from_date=today, to_date=today)
    assert run.state == "success"
    assert xcom_values(run, "replay")[0]["request_ids"] == 2

    assert dep.total_calls() == total  # not one call
    # Replacing by request_id: the same rows, not twice the rows.
    assert (_count(dep, "ocr_fields"), _count(dep, "ocr_table_cells")) == (fields, cells)
    assert sorted(r[0] for r in dep.query("SELECT request_id FROM ocr.ocr_requests")) == sorted(
        calls
    )


def test_replay_refuses_to_guess_what_to_replay(get_dag: Any, deployment: Any) -> None:
    deployment()
    run = run_dag(get_dag("clova_ocr_replay"), D1)
    assert run.state == "failed" and task_states(run)["replay"] == "failed"


def test_force_reocrs_the_chosen_object_once(get_dag: Any, deployment: Any) -> None:
    dep = deployment()
    calls = _ingest(get_dag, dep, "receipt-ko", "invoice-table")
    receipt = next(
        iter(
            dep.query(
                "SELECT request_id FROM ocr.ocr_requests WHERE source_uri LIKE '%receipt-ko.png'"
            )
        )
    )[0]

    run = run_dag(get_dag("clova_ocr_force"), D1, object_uris=["inbox/general/receipt-ko.png"])
    assert run.state == "success"
    after = dep.calls()
    assert after[receipt] == 2  # re-sent on purpose
    assert {k: v for k, v in after.items() if k != receipt} == {
        k: v for k, v in calls.items() if k != receipt
    }
    (batch,) = xcom_values(run, "ocr")
    assert batch["sent"] == 1 and batch["billable_calls"] == 1
    # Still one row per request in the warehouse (the new answer replaced the old one).
    rows = dep.query("SELECT request_id, count(*) FROM ocr.ocr_requests GROUP BY request_id")
    assert {n for _, n in rows} == {1} and len(rows) == 2


def test_force_by_request_id(get_dag: Any, deployment: Any) -> None:
    dep = deployment()
    (rid,) = _ingest(get_dag, dep, "receipt-ko")
    run = run_dag(get_dag("clova_ocr_force"), D1, request_ids=[rid])
    assert run.state == "success" and dep.calls() == {rid: 2}


def test_force_without_a_choice_fails_clearly(get_dag: Any, deployment: Any) -> None:
    dep = deployment()
    run = run_dag(get_dag("clova_ocr_force"), D1)
    assert run.state == "failed" and task_states(run)["plan"] == "failed"
    assert dep.total_calls() == 0


class _TI:
    """The one TaskInstance call plan_events makes (pushing its plan summary)."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_bucket_event_feeds_the_same_ocr_path(get_dag: Any, deployment: Any, moto_s3: Any) -> None:
    import boto3

    from clova_etl import pipeline
    from clova_etl.airflow import runtime

    dep = deployment()
    sqs = boto3.client(
        "sqs",
        endpoint_url=moto_s3.endpoint_url,
        region_name=moto_s3.region,
        aws_access_key_id=moto_s3.key,
        aws_secret_access_key=moto_s3.secret,
    )
    queue = sqs.create_queue(QueueName=f"{dep.bucket.name}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    dep.bucket.client.put_bucket_notification_configuration(
        Bucket=dep.bucket.name,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    key = dep.put("receipt-ko")
    dep.bucket.put("elsewhere/not-watched.png", b"\x89PNG")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    # The asset event the watcher's trigger makes of this batch (see test_events.py for the
    # trigger itself polling moto).
    extra = {
        "from_trigger": True,
        "payload": {"status": "success", "message_batch": messages["Messages"]},
    }
    context = {
        "params": {"object_uris": []},
        "triggering_asset_events": {"clova_ocr_inbox": [SimpleNamespace(extra=extra)]},
        "dag": SimpleNamespace(dag_id="clova_ocr_events"),
        "run_id": "asset_triggered__test",
        "ti": _TI(),
    }
    config = runtime.load_run_config(context["params"], with_ocr=False)
    batches = [pipeline.read_batch(config, ref) for ref in runtime.plan_events(context)]
    assert [r["key"] for b in batches for r in b] == [key]  # the prefix filter dropped the rest
    assert context["ti"].pushed["plan"]["events"] == 1

    # The event DAG run over that object: planned, OCR'd, loaded (one call).
    uris = [r["uri"] for b in batches for r in b]
    run = run_dag(get_dag("clova_ocr_events"), D1, object_uris=uris)
    assert run.state == "success" and set(dep.calls().values()) == {1}
    status = dep.query("SELECT status FROM ocr.etl_objects")
    assert status == [("loaded",)]

    # The scheduled discovery over the day the object landed is the safety net: it finds the
    # object and pays nothing for it.
    landed = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    run = run_dag(get_dag("clova_ocr_ingest"), landed + DAY)
    assert run.state == "success" and set(dep.calls().values()) == {1}
    (summary,) = xcom_values(run, "finish")
    assert summary["ocr"]["skipped_existing"] == 1 and summary["ocr"]["sent"] == 0
    assert json.dumps(summary)  # JSON all the way
