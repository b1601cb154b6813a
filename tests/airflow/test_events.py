"""Event-driven pick-up: S3 ObjectCreated → SQS (moto) → the inbox asset's SqsSensorTrigger."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.airflow


def test_object_uris_from_messages_takes_created_objects_only() -> None:
    from clova_etl.airflow.events import object_uris_from_messages

    def record(event: str, key: str, bucket: str = "docs") -> dict[str, Any]:
        return {"eventName": event, "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}

    created = {"Records": [record("ObjectCreated:Put", "inbox/a+b%2Bc.png")]}
    messages = [
        {"Body": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})},
        {"Body": json.dumps(created)},
        {"Body": json.dumps({"Records": [record("ObjectRemoved:Delete", "inbox/gone.png")]})},
        # Through SNS the S3 event is a JSON string in "Message".
        {
            "Body": json.dumps(
                {
                    "Type": "Notification",
                    "Message": json.dumps(
                        {
                            "Records": [
                                record("ObjectCreated:CompleteMultipartUpload", "inbox/big.pdf")
                            ]
                        }
                    ),
                }
            )
        },
        {"Body": "not json"},
        {"Body": json.dumps(created)},  # a duplicate delivery (SQS is at-least-once)
    ]
    assert object_uris_from_messages(messages) == [
        "s3://docs/inbox/a b+c.png",
        "s3://docs/inbox/big.pdf",
    ]


def test_object_uris_from_events_reads_watcher_and_api_events() -> None:
    from clova_etl.airflow.events import object_uris_from_events

    body = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "inbox/x.png"}},
            }
        ]
    }
    extras = [
        {
            "from_trigger": True,
            "payload": {"status": "success", "message_batch": [{"Body": json.dumps(body)}]},
        },
        {"object_uris": ["s3://b/inbox/y+z.png", "s3://b/inbox/x.png"]},
        None,
        {"something": "else"},
    ]
    assert object_uris_from_events(extras) == ["s3://b/inbox/x.png", "s3://b/inbox/y+z.png"]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_bucket_notification_reaches_the_inbox_watcher(
    airflow_home: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from clova_etl.airflow.events import inbox_asset, object_uris_from_events

    aws = {"endpoint_url": moto_endpoint, "region_name": "us-east-1"}
    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    s3 = boto3.client("s3", **aws, **creds)
    sqs = boto3.client("sqs", **aws, **creds)
    s3.create_bucket(Bucket="watched")
    queue = sqs.create_queue(QueueName="watched-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket="watched",
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_EVENTS_AWS",
        json.dumps({"conn_type": "aws", "login": "testing", "password": "testing", "extra": aws}),
    )
    asset = inbox_asset(
        {"CLOVA_AIRFLOW_EVENTS_QUEUE_URL": queue, "CLOVA_AIRFLOW_EVENTS_AWS_CONN_ID": "events_aws"}
    )
    trigger = asset.watchers[0].trigger
    trigger.wait_time_seconds = 1  # keep the test's long poll short

    s3.put_object(Bucket="watched", Key="inbox/general/receipt 1.png", Body=b"\x89PNG")

    async def first_event() -> Any:
        events = trigger.run()
        try:
            return await asyncio.wait_for(anext(events), timeout=30)
        finally:
            await events.aclose()

    event = asyncio.run(first_event())
    # What the triggerer stores as the asset event's extra, read back by the event DAG.
    extra = json.loads(json.dumps({"from_trigger": True, "payload": event.payload}))
    assert object_uris_from_events([extra]) == ["s3://watched/inbox/general/receipt 1.png"]
    # The trigger deleted what it read: the next batch starts empty.
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"
