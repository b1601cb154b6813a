"""``ClovaOCROperator``: OCR one batch of planned requests, idempotent by ``request_id``.

The operator is a thin shell: it resolves the run's configuration and connection(s) and calls
:func:`clova_etl.airflow.runtime.ocr`, which calls the library's batch step. Use it mapped over
the batches a planning task returns (``.partial(...).expand(requests=...)``): one task instance
per batch, not per file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

__all__ = ["ClovaOCROperator"]


class ClovaOCROperator(BaseOperator):
    """Send the batch's requests that have no stored response yet; store every answer.

    :param requests: the batch: planned request dicts, or a reference to a batch the planning
        step stored (``{"batch_key": ...}``, what the DAGs' planning tasks return). Not
        templated: object keys are user data and must never be rendered as Jinja.
    :param clova_ocr_conn_id: connection of the General OCR domain (templated).
    :param template_conn_id: connection of the Template OCR domain; empty: the same (templated).
    :param force: send even requests whose response is stored (re-OCR on purpose; billable).
    """

    template_fields: Sequence[str] = ("clova_ocr_conn_id", "template_conn_id")
    # NAVER green, so the paid step stands out in the grid.
    ui_color = "#03c75a"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        requests: list[dict[str, Any]] | dict[str, Any],
        clova_ocr_conn_id: str = "clova_ocr_default",
        template_conn_id: str = "",
        force: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.requests = requests
        self.clova_ocr_conn_id = clova_ocr_conn_id
        self.template_conn_id = template_conn_id
        self.force = force

    def execute(self, context: Any) -> dict[str, Any]:
        """OCR the batch and return its JSON summary (counts, request ids, stop reason)."""
        from clova_etl.airflow import runtime

        return runtime.ocr(
            context,
            self.requests,
            clova_ocr_conn_id=self.clova_ocr_conn_id,
            template_conn_id=self.template_conn_id,
            force=self.force,
        )
