"""Provider metadata, so that Airflow lists the ``clova_ocr`` connection type in its UI.

Registered through the ``apache_airflow_provider`` entry point of the ``clova-etl``
distribution; Airflow calls :func:`get_provider_info` during provider discovery, so this module
imports nothing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """The provider description Airflow's ProvidersManager validates and reads."""
    from clova_etl import __version__

    return {
        "package-name": "clova-etl",
        "name": "NAVER CLOVA OCR (clova-etl)",
        "description": "Scanned documents to warehouse tables through NAVER CLOVA OCR.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "NAVER CLOVA OCR",
                "external-doc-url": "https://api.ncloud-docs.com/docs/en/ai-application-service-ocr",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": "NAVER CLOVA OCR", "python-modules": ["clova_etl.airflow.hooks"]}
        ],
        "operators": [
            {
                "integration-name": "NAVER CLOVA OCR",
                "python-modules": ["clova_etl.airflow.operators"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "clova_ocr",
                "hook-class-name": "clova_etl.airflow.hooks.ClovaOCRHook",
            }
        ],
    }
