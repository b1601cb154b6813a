"""The Airflow layer: a hook on the ``clova_ocr`` connection and thin operators over the library.

Nothing here holds business logic: every task calls the same :mod:`clova_etl.pipeline` functions
the CLI calls. Importing this package imports ``airflow.sdk`` but none of the heavy library
modules; those are imported inside ``execute()``.
"""

from __future__ import annotations

from clova_etl.airflow.hooks import ClovaOCRHook
from clova_etl.airflow.operators import ClovaOCROperator

__all__ = ["ClovaOCRHook", "ClovaOCROperator"]
