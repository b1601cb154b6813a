"""clova-etl: scanned documents to warehouse tables through NAVER CLOVA OCR.

``clova_etl.read(name, warehouse=…)`` hands any table or view to an analyst as a pandas
DataFrame (:mod:`clova_etl.frames`); everything else lives in the sub-packages.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "read"]


def read(
    name: str,
    *,
    warehouse: str | None = None,
    schema: str = "ocr",
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    source_uri_like: str | None = None,
    run_id: str | None = None,
    columns: list[str] | None = None,
    limit: int | None = None,
    as_arrow: bool = False,
) -> Any:
    """A clova-etl table or view as a pandas DataFrame (Arrow with ``as_arrow=True``).

    See :func:`clova_etl.frames.read`; imported on first use so that ``import clova_etl``
    stays light.
    """
    from clova_etl.frames import read as _read

    return _read(
        name,
        warehouse=warehouse,
        schema=schema,
        since=since,
        until=until,
        source_uri_like=source_uri_like,
        run_id=run_id,
        columns=columns,
        limit=limit,
        as_arrow=as_arrow,
    )
