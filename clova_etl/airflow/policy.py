"""How the DAGs' tasks are run: retries, time limits and the OCR pool, in one place.

Read at DAG parse time (plain constants and environment variables, nothing heavy):

- Retries back off exponentially from 30 s (doubling, at most 10 minutes), with Airflow's own
  jitter, so that tasks failing together do not come back together.
- ``CLOVA_AIRFLOW_OCR_POOL`` (default ``clova_ocr``): the pool every OCR task of the ingest,
  events and force DAGs runs in. Create it once per deployment
  (``airflow pools set clova_ocr 4 "CLOVA OCR"``): its slots bound how many OCR tasks call the
  service at once, whichever DAG or run they belong to; the rate limit itself is shared through
  the store (``ocr.rate_limit_per_second`` is the domain's total).
- ``CLOVA_AIRFLOW_OCR_TIMEOUT_MINUTES`` (default 120) and ``CLOVA_AIRFLOW_LOAD_TIMEOUT_MINUTES``
  (default 60): each OCR and flatten/load task's ``execution_timeout``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

OCR_POOL = os.environ.get("CLOVA_AIRFLOW_OCR_POOL", "clova_ocr")
OCR_TIMEOUT = timedelta(minutes=float(os.environ.get("CLOVA_AIRFLOW_OCR_TIMEOUT_MINUTES", "120")))
LOAD_TIMEOUT = timedelta(minutes=float(os.environ.get("CLOVA_AIRFLOW_LOAD_TIMEOUT_MINUTES", "60")))


def default_args(retries: int = 2) -> dict[str, Any]:
    """The DAGs' task defaults: retries with exponential backoff and jitter, a time limit."""
    return {
        "retries": retries,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": LOAD_TIMEOUT,
    }


__all__ = ["LOAD_TIMEOUT", "OCR_POOL", "OCR_TIMEOUT", "default_args"]
