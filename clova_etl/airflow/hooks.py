"""``ClovaOCRHook``: the ``clova_ocr`` Airflow connection as CLOVA OCR settings and a client.

The connection holds the invoke URL (host) and the secret key (password); its extras are the
optional tuning fields of :class:`clova_etl.config.OCRConfig` (validated by it, so an unknown or
malformed extra fails with a clear message)::

    {"timeout_seconds": 120, "max_retries": 4, "rate_limit_per_second": 5.0,
     "concurrency": 4, "transport": "multipart"}

In tests and containers it comes from the environment, e.g.
``AIRFLOW_CONN_CLOVA_OCR_DEFAULT='{"conn_type": "clova_ocr", "host": "https://…/general",
"password": "…", "extra": {"rate_limit_per_second": 5}}'``. A second connection (for instance
``clova_ocr_template``) may hold the Template OCR domain, whose invoke URL and secret differ.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from clova_etl.client import ClovaOCRClient
    from clova_etl.config import OCRConfig, PipelineConfig

__all__ = ["ClovaOCRHook"]

# OCRConfig fields a connection may set through its extras.
EXTRA_FIELDS = frozenset(
    {"timeout_seconds", "max_retries", "rate_limit_per_second", "concurrency", "transport"}
)


class ClovaOCRHook(BaseHook):
    """Connection to one CLOVA OCR invoke URL (General or Template); builds the client once."""

    conn_name_attr = "clova_ocr_conn_id"
    default_conn_name = "clova_ocr_default"
    conn_type = "clova_ocr"
    hook_name = "NAVER CLOVA OCR"

    def __init__(self, clova_ocr_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.clova_ocr_conn_id = clova_ocr_conn_id
        self._client: ClovaOCRClient | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Relabel the connection form: host is the invoke URL, password the secret key."""
        return {
            "hidden_fields": ["schema", "login", "port"],
            "relabeling": {"host": "Invoke URL", "password": "Secret Key"},
            "placeholders": {
                "host": "https://xxxx.apigw.ntruss.com/custom/v1/12345/abcdef/general",
                "password": "X-OCR-SECRET of this domain",
                "extra": json.dumps(
                    {"timeout_seconds": 120, "rate_limit_per_second": 5.0, "concurrency": 4}
                ),
            },
        }

    def ocr_settings(self) -> dict[str, Any]:
        """The connection as ``OCRConfig`` fields (secret included: never log or return it)."""
        from airflow.sdk.log import mask_secret

        conn_id = self.clova_ocr_conn_id
        conn = self.get_connection(conn_id)
        if not conn.host:
            raise ValueError(f"connection {conn_id!r} has no host: set it to the invoke URL")
        if not conn.password:
            raise ValueError(f"connection {conn_id!r} has no password: set it to the secret key")
        mask_secret(conn.password)
        extra = dict(conn.extra_dejson or {})
        unknown = sorted(set(extra) - EXTRA_FIELDS)
        if unknown:
            raise ValueError(
                f"connection {conn_id!r}: unknown extra field(s) {unknown}; "
                f"known: {sorted(EXTRA_FIELDS)}"
            )
        return {"invoke_url": _invoke_url(conn), "secret": conn.password, **extra}

    def get_ocr_config(self, base: OCRConfig | None = None) -> OCRConfig:
        """``base`` (or the defaults) with the connection's URL, secret and extras, validated."""
        from clova_etl.config import OCRConfig

        data = base.model_dump() if base is not None else {}
        data.update(self.ocr_settings())
        try:
            return OCRConfig.model_validate(data)
        except ValueError as exc:
            # pydantic echoes input values; the secret is only ever a str here, so re-raise
            # with the field locations alone.
            raise ValueError(
                f"connection {self.clova_ocr_conn_id!r} is invalid: {_fields(exc)}"
            ) from None

    def apply_to(self, config: PipelineConfig, *, template: bool = False) -> PipelineConfig:
        """``config`` calling this connection (as the Template domain when ``template``)."""
        ocr = self.get_ocr_config(config.ocr)
        if template:
            ocr = config.ocr.model_copy(
                update={"template_invoke_url": ocr.invoke_url, "template_secret": ocr.secret}
            )
        return config.model_copy(update={"ocr": ocr})

    def get_conn(self) -> ClovaOCRClient:
        """The client for this connection, built on first use and reused after."""
        if self._client is None:
            from clova_etl.pipeline.calls import build_clients

            # The pipeline's own factory: the same timeouts, retries and limits as the CLI.
            self._client = build_clients(self.get_ocr_config())["general"]
        return self._client

    def close(self) -> None:
        """Close the client's connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> ClovaOCRHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection's fields without a call: every OCR request is billable."""
        try:
            ocr = self.get_ocr_config()
        except ValueError as exc:
            return False, str(exc)
        return True, f"connection settings are valid for {ocr.invoke_url}"


def _invoke_url(conn: Any) -> str:
    host = str(conn.host)
    if "://" in host:
        return host
    # From a connection URI (clova-ocr://:secret@domain/custom/v1/…/general) Airflow keeps the
    # domain as host and the path as schema, and drops the scheme: the service is HTTPS only.
    port = f":{conn.port}" if conn.port else ""
    path = f"/{str(conn.schema).lstrip('/')}" if conn.schema else ""
    return f"https://{host}{port}{path}"


def _fields(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return type(exc).__name__
    return "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors()
    )
