"""The Airflow layer: a hook on the ``clova_ocr`` connection and thin operators over the library.

Nothing here holds business logic: every task calls the same :mod:`clova_etl.pipeline` functions
the CLI calls. The public names are imported on first use, so that Airflow's provider discovery
(``clova_etl.airflow.provider``) imports nothing but that module, and none of the heavy library
modules load until a task runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clova_etl.airflow.hooks import ClovaOCRHook
    from clova_etl.airflow.operators import ClovaOCROperator

__all__ = ["ClovaOCRHook", "ClovaOCROperator"]

_WHERE = {
    "ClovaOCRHook": "clova_etl.airflow.hooks",
    "ClovaOCROperator": "clova_etl.airflow.operators",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
