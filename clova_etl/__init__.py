"""clova-etl: scanned documents to warehouse tables through NAVER CLOVA OCR.

``clova_etl.read(name, warehouse=…)`` hands any table or view to an analyst as a pandas
DataFrame (:mod:`clova_etl.frames`); everything else lives in the sub-packages.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "read"]


def __getattr__(name: str) -> Any:
    # ``read`` is :func:`clova_etl.frames.read`, imported on first use so that
    # ``import clova_etl`` stays light (no pyarrow, no warehouse drivers).
    if name == "read":
        from clova_etl.frames import read

        return read
    raise AttributeError(f"module 'clova_etl' has no attribute {name!r}")
