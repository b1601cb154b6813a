"""clova_ocr_events: OCR documents seconds after they land, driven by bucket notifications.

The bucket sends ``ObjectCreated`` notifications to an SQS queue; the ``clova_ocr_inbox`` Asset
watches that queue (``AssetWatcher`` + ``SqsSensorTrigger``) and every batch of messages starts
a run of this DAG, which plans exactly those objects and sends them down the same path as
``clova_ocr_ingest``. The daily ``clova_ocr_ingest`` stays the safety net: an object whose event
was lost is picked up by its interval's discovery, and one already done costs nothing there.

Set ``CLOVA_AIRFLOW_EVENTS_QUEUE_URL`` (and ``CLOVA_AIRFLOW_EVENTS_AWS_CONN_ID``) in the
environment of the DAG processor and triggerer; without it the asset has no watcher and the DAG
runs only when triggered by hand (param ``object_uris``) or by an asset event posted through the
REST API.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from clova_etl.airflow.events import inbox_asset
from clova_etl.airflow.params import common_params, ocr_params
from clova_etl.airflow.policy import default_args
from clova_etl.airflow.taskflow import ocr_flatten_load


@dag(
    dag_id="clova_ocr_events",
    schedule=[inbox_asset()],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args=default_args(),
    params={
        "object_uris": Param([], type="array", items={"type": "string"}),
        **ocr_params(),
        **common_params(),
    },
    tags=["clova-ocr"],
    doc_md=__doc__,
)
def clova_ocr_events() -> None:
    """Turn the triggering events into object URIs, plan them, OCR, flatten, load, check."""

    @task
    def plan() -> list[dict[str, Any]]:
        from clova_etl.airflow import runtime

        return runtime.plan_events()

    ocr_flatten_load(plan())


clova_ocr_events()
