"""clova-etl: scanned documents to warehouse tables through NAVER CLOVA OCR."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
