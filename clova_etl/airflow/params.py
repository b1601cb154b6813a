"""The run parameters the clova_ocr DAGs share, declared once (the UI builds its form from them)."""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import Param

__all__ = ["OCR_CONN_ENV", "TEMPLATE_CONN_ENV", "budget_params", "common_params", "ocr_params"]

# Defaults of the connection params, from the environment so that a deployment can rename its
# connections without editing DAG code (read at parse time: an environment read is not I/O).
# Not CLOVA_ETL_*: clova_etl.config reads every CLOVA_ETL_<SECTION>_<FIELD> as a config value.
OCR_CONN_ENV = "CLOVA_AIRFLOW_OCR_CONN_ID"
TEMPLATE_CONN_ENV = "CLOVA_AIRFLOW_TEMPLATE_CONN_ID"


def common_params() -> dict[str, Param]:
    """``config_overrides``: nested configuration values for one run."""
    return {
        "config_overrides": Param(
            {},
            type="object",
            description='Nested config values for this run only, e.g. {"run": {"batch_size": 8}}.',
        ),
    }


def ocr_params() -> dict[str, Param]:
    """The OCR connections (General domain, optional Template domain) and the run's budget."""
    return {
        "clova_ocr_conn_id": Param(
            os.environ.get(OCR_CONN_ENV, "clova_ocr_default"),
            type="string",
            description="Airflow connection of the CLOVA OCR invoke URL (General domain).",
        ),
        "clova_ocr_template_conn_id": Param(
            os.environ.get(TEMPLATE_CONN_ENV, ""),
            type="string",
            description="Connection of the Template OCR domain; empty: the same as above.",
        ),
        **budget_params(),
    }


def budget_params() -> dict[str, Param]:
    """Spending limits for one run and for a scope shared by several runs (a backfill)."""

    def limit(description: str) -> Param:
        return Param(None, type=["null", "integer"], minimum=0, description=description)

    return {
        "max_calls": limit("Most billable calls this run may make (default: config)."),
        "max_pages": limit("Most billable pages this run may send (default: config)."),
        "budget_scope": Param(
            None,
            type=["null", "string"],
            description="Name of a budget shared by every run that names it (e.g. a backfill).",
        ),
        "scope_max_calls": limit("Most billable calls of all runs of budget_scope together."),
        "scope_max_pages": limit("Most billable pages of all runs of budget_scope together."),
    }


def param_values(params: Any, names: list[str]) -> dict[str, Any]:
    """The named params (missing ones as None)."""
    return {n: params.get(n) for n in names}
