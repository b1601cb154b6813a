"""clova_ocr_replay: re-flatten and reload from the raw store, with zero API calls.

For a parser or schema change: the stored raw responses (bronze) of the chosen requests are
flattened again with the current parser and loaded over the previous rows (a reload replaces a
request's rows in one transaction, so nothing duplicates). No OCR connection is used.

Params (give a date range, request ids, or both):

- ``from_date`` / ``to_date``: requests whose response was stored on these UTC days (both
  included, ``YYYY-MM-DD``);
- ``request_ids``: these requests exactly;
- ``config_overrides``: nested config values for this run only.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

from clova_etl.airflow.params import common_params
from clova_etl.airflow.policy import default_args


@dag(
    dag_id="clova_ocr_replay",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=1),
    params={
        "from_date": Param(None, type=["null", "string"], description="First day (YYYY-MM-DD)."),
        "to_date": Param(None, type=["null", "string"], description="Last day, included."),
        "request_ids": Param([], type="array", items={"type": "string"}),
        **common_params(),
    },
    tags=["clova-ocr"],
    doc_md=__doc__,
)
def clova_ocr_replay() -> None:
    """Select stored requests, flatten them again, reload them, check."""

    @task
    def replay() -> dict[str, Any]:
        from clova_etl.airflow import runtime

        return runtime.replay()

    replay()


clova_ocr_replay()
