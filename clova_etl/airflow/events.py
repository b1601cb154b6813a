"""Event-driven pick-up: the inbox as an Airflow Asset watched through S3 → SQS notifications.

The bucket sends ``ObjectCreated`` notifications to an SQS queue; an :class:`AssetWatcher` with
the Amazon provider's ``SqsSensorTrigger`` turns each batch of messages into an asset event whose
``extra`` is ``{"from_trigger": True, "payload": {"status": "success", "message_batch": [...]}}``.
:func:`object_uris_from_events` reads the object URIs back out of those extras so that the
event DAG hands them to the same planning and OCR path as the scheduled discovery.

The queue is named by environment variables because the watcher is built when the DAG file is
parsed, and parsing must do no I/O (no Variable or config-file reads):

- ``CLOVA_AIRFLOW_EVENTS_QUEUE_URL``: the SQS queue URL (unset: the asset has no watcher, and the
  event DAG only runs when triggered by hand or by an asset event sent through the API);
- ``CLOVA_AIRFLOW_EVENTS_AWS_CONN_ID``: the AWS connection for SQS (default ``aws_default``);
- ``CLOVA_AIRFLOW_EVENTS_POLL_SECONDS``: seconds between empty polls (default 5).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

__all__ = [
    "INBOX_ASSET_URI",
    "inbox_asset",
    "object_uris_from_events",
    "object_uris_from_messages",
]

QUEUE_ENV = "CLOVA_AIRFLOW_EVENTS_QUEUE_URL"
AWS_CONN_ENV = "CLOVA_AIRFLOW_EVENTS_AWS_CONN_ID"
POLL_ENV = "CLOVA_AIRFLOW_EVENTS_POLL_SECONDS"
# A logical name, not a location: the bucket itself is configuration, read at run time.
INBOX_ASSET_URI = "clova-etl://inbox"


def inbox_asset(env: Mapping[str, str] | None = None) -> Any:
    """The inbox Asset, watched through SQS when ``CLOVA_AIRFLOW_EVENTS_QUEUE_URL`` is set."""
    from airflow.sdk import Asset, AssetWatcher

    env = os.environ if env is None else env
    queue_url = env.get(QUEUE_ENV)
    if not queue_url:
        return Asset(name="clova_ocr_inbox", uri=INBOX_ASSET_URI)
    from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger

    trigger = SqsSensorTrigger(
        sqs_queue=queue_url,
        aws_conn_id=env.get(AWS_CONN_ENV, "aws_default"),
        max_messages=10,
        # Long-poll so that an object is seen within a second or two of landing, and sleep only
        # a little between empty polls.
        wait_time_seconds=20,
        waiter_delay=int(env.get(POLL_ENV, "5")),
    )
    watcher = AssetWatcher(name="clova_ocr_inbox_sqs", trigger=trigger)
    return Asset(name="clova_ocr_inbox", uri=INBOX_ASSET_URI, watchers=[watcher])


def _records(body: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return []
    if not isinstance(body, Mapping):
        return []
    # Through SNS the S3 event is a JSON string inside "Message".
    if "Records" not in body and isinstance(body.get("Message"), str):
        return _records(body["Message"])
    records = body.get("Records")
    return [r for r in records if isinstance(r, Mapping)] if isinstance(records, list) else []


def object_uris_from_messages(messages: Iterable[Any]) -> list[str]:
    """``s3://bucket/key`` of every ``ObjectCreated`` record in SQS messages, first-seen order.

    Other messages (the ``s3:TestEvent`` S3 sends when notifications are configured, deletions,
    anything unparseable) are skipped: a stray message must not fail the run.
    """
    seen: dict[str, None] = {}
    for message in messages:
        body = message.get("Body") if isinstance(message, Mapping) else message
        for record in _records(body):
            if not str(record.get("eventName", "")).startswith("ObjectCreated"):
                continue
            s3 = record.get("s3")
            if not isinstance(s3, Mapping):
                continue
            bucket = (s3.get("bucket") or {}).get("name")
            key = (s3.get("object") or {}).get("key")
            if bucket and key:
                # S3 URL-encodes keys in notifications ("a+b%2Bc" is "a b+c").
                seen.setdefault(f"s3://{bucket}/{unquote_plus(key)}", None)
    return list(seen)


def object_uris_from_events(extras: Iterable[Mapping[str, Any] | None]) -> list[str]:
    """Object URIs from the ``extra`` of asset events (SQS watcher batches or named objects).

    Besides the watcher's ``payload.message_batch``, an event posted through the REST API may
    name objects directly: ``{"object_uris": ["s3://bucket/inbox/a.pdf"]}``.
    """
    seen: dict[str, None] = {}
    for extra in extras:
        extra = extra or {}
        payload = extra.get("payload")
        if isinstance(payload, Mapping) and isinstance(payload.get("message_batch"), list):
            seen.update(dict.fromkeys(object_uris_from_messages(payload["message_batch"])))
        named = extra.get("object_uris")
        if isinstance(named, list):
            seen.update(dict.fromkeys(u for u in named if isinstance(u, str) and u))
    return list(seen)
