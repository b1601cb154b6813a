"""The task chain the ingest, event and force DAGs share: OCR in batches → flatten → load → finish.

Built once here so that a scheduled run, an event-driven run and a forced re-OCR run take the
very same path. Task bodies only call :mod:`clova_etl.airflow.runtime`, imported inside them so
that parsing a DAG file imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import task

from clova_etl.airflow.operators import ClovaOCROperator
from clova_etl.airflow.policy import OCR_POOL, OCR_TIMEOUT

__all__ = ["ocr_flatten_load"]


def _materialise(results: Any) -> list[dict[str, Any]]:
    """A mapped task's results as a list, in one XCom read.

    Iterating Airflow's lazy sequence reads item by item until a "not found" (logged as an
    error); a slice is a single request.
    """
    if results is None:
        return []
    return list(results[:]) if isinstance(results, Sequence) else list(results)


@task(trigger_rule="none_failed")
def flatten(ocr_results: Any) -> dict[str, Any]:
    """Flatten the raw responses the run's OCR batches stored (Parquet, silver)."""
    from clova_etl.airflow import runtime

    return runtime.flatten(_materialise(ocr_results))


@task
def load(flattened: Any) -> dict[str, Any]:
    """Load the run's Parquet into the warehouse and run the checks (a blocking failure fails)."""
    from clova_etl.airflow import runtime

    return runtime.load(flattened)


@task(trigger_rule="none_failed", retries=0)
def finish(plan_task_id: str, ocr_results: Any, loaded: Any) -> dict[str, Any]:
    """Report the run and its bill; fail it (no retry) when requests were left pending."""
    from airflow.sdk import get_current_context

    from clova_etl.airflow import runtime

    plan = get_current_context()["ti"].xcom_pull(task_ids=plan_task_id, key=runtime.PLAN_XCOM)
    return runtime.finish(plan or {}, _materialise(ocr_results), loaded)


def ocr_flatten_load(batches: Any, *, force: bool = False) -> Any:
    """Wire planned ``batches`` → mapped OCR → flatten → load → finish; return ``finish``.

    The planning task stores the batches and returns references to them (one small dict per
    batch, see :func:`clova_etl.pipeline.plan.store_batches`), and pushes its summary (counts,
    estimate) under the XCom key ``plan``, which ``finish`` reports.
    """
    ocr = ClovaOCROperator.partial(
        task_id="ocr",
        clova_ocr_conn_id="{{ params.clova_ocr_conn_id }}",
        template_conn_id="{{ params.clova_ocr_template_conn_id }}",
        force=force,
        pool=OCR_POOL,
        execution_timeout=OCR_TIMEOUT,
    ).expand(requests=batches)
    loaded = load(flatten(ocr.output))
    return finish(batches.operator.task_id, ocr.output, loaded)
