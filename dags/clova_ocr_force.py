"""clova_ocr_force: re-OCR chosen objects on purpose (billable), then flatten and load.

For a document whose stored answer is wrong (a bad scan replaced under the same key, a service
fault, a new template): the chosen requests are sent again even though a response is stored.
The new answer replaces the stored one and the rows are reloaded. A retried task or a re-run of
the same force run does not pay again: a request already re-sent by this run is skipped.

Params (give object URIs/keys, request ids, or both):

- ``object_uris``: objects to plan again (keys relative to the source, or full URIs);
- ``request_ids``: stored requests to send again with their recorded options;
- ``max_calls`` / ``max_pages``: this run's budget;
- ``clova_ocr_conn_id`` / ``clova_ocr_template_conn_id``, ``config_overrides``.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from clova_etl.airflow.params import common_params, ocr_params
from clova_etl.airflow.policy import default_args
from clova_etl.airflow.taskflow import ocr_flatten_load


@dag(
    dag_id="clova_ocr_force",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    params={
        "object_uris": Param([], type="array", items={"type": "string"}),
        "request_ids": Param([], type="array", items={"type": "string"}),
        **ocr_params(),
        **common_params(),
    },
    tags=["clova-ocr"],
    doc_md=__doc__,
)
def clova_ocr_force() -> None:
    """Plan the chosen objects/requests, send them again, flatten, load, check."""

    @task
    def plan() -> list[dict[str, Any]]:
        from clova_etl.airflow import runtime

        return runtime.plan_force()

    ocr_flatten_load(plan(), force=True)


clova_ocr_force()
