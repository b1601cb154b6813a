"""Pipeline configuration: where objects come from, where results go, how to call CLOVA, limits.

One :class:`PipelineConfig` drives ``clova-etl ingest``/``replay`` and the Airflow tasks alike.
It is read from a TOML file and/or ``CLOVA_ETL_<SECTION>_<FIELD>`` environment variables
(``CLOVA_ETL_SOURCE_URI``, ``CLOVA_ETL_BUDGET_MAX_CALLS_PER_RUN``…; ``CLOVA_ETL_ROUTES`` holds
JSON), plus ``CLOVA_OCR_INVOKE_URL`` / ``CLOVA_OCR_SECRET`` for the endpoint. Defaults are the
embedded local set-up: folders under ``./data`` and a DuckDB file.

Secrets (bucket secret keys, the X-OCR-SECRET) are :class:`pydantic.SecretStr`: they print as
``**********`` and :meth:`PipelineConfig.public_dict` leaves them out.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

ENV_PREFIX = "CLOVA_ETL_"
CONFIG_ENV = "CLOVA_ETL_CONFIG"
INVOKE_URL_ENV = "CLOVA_OCR_INVOKE_URL"
SECRET_ENV = "CLOVA_OCR_SECRET"  # noqa: S105 (a variable name)
TEMPLATE_INVOKE_URL_ENV = "CLOVA_OCR_TEMPLATE_INVOKE_URL"
TEMPLATE_SECRET_ENV = "CLOVA_OCR_TEMPLATE_SECRET"  # noqa: S105

MB = 1024 * 1024


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StorageConfig(_Section):
    """A folder or bucket reached through fsspec (``./dir``, ``file:///dir``, ``s3://bucket/p``)."""

    uri: str
    endpoint_url: str | None = None
    region_name: str | None = None
    key: str | None = Field(default=None, description="Access key id (S3); None: boto's chain.")
    secret: SecretStr | None = Field(default=None, description="Secret access key (S3).")
    conditional_writes: bool = Field(
        default=True,
        description="The store honours If-None-Match/If-Match on PUT (AWS S3, MinIO, moto); "
        "if not, claims fall back to write-then-read-back (best effort).",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Extra fsspec storage options."
    )

    def storage_options(self) -> dict[str, Any]:
        """fsspec keyword arguments (the only place the secret is revealed)."""
        opts: dict[str, Any] = dict(self.options)
        client_kwargs: dict[str, Any] = dict(opts.pop("client_kwargs", {}) or {})
        if self.endpoint_url:
            client_kwargs["endpoint_url"] = self.endpoint_url
        if self.region_name:
            client_kwargs["region_name"] = self.region_name
        if client_kwargs:
            opts["client_kwargs"] = client_kwargs
        if self.key:
            opts["key"] = self.key
        if self.secret is not None:
            opts["secret"] = self.secret.get_secret_value()
        return opts


class SourceConfig(StorageConfig):
    """The bucket documents are dropped into."""

    uri: str = "./data/bucket"
    prefix: str = Field(default="inbox/", description="Only keys under this prefix are seen.")
    ignore: list[str] = Field(
        default_factory=list,
        description="Key globs not processed (markers…): recorded in etl_objects as skipped, "
        "reason ignored.",
    )
    hidden: Literal["skip", "take"] = Field(
        default="skip",
        description="Keys with a segment starting with '.': 'skip' records them in etl_objects "
        "as skipped (reason hidden); 'take' processes them like any other object.",
    )
    not_before: str | None = Field(
        default=None,
        description="ISO time: objects last modified earlier are never discovered (no catch-up "
        "beyond it).",
    )


class StoreConfig(StorageConfig):
    """Where raw responses (bronze), claims, object states, billing and Parquet live."""

    uri: str = "./data/store"


class WarehouseConfig(_Section):
    """The warehouse to load into."""

    uri: str = "duckdb:///data/warehouse.duckdb"
    lock_wait_seconds: float = Field(
        default=900.0,
        ge=0,
        description="DuckDB: how long a load waits (backoff with jitter) for another process "
        "holding the file (a second writer, an open reader) before failing.",
    )


class OCRConfig(_Section):
    """The CLOVA endpoint(s) and how hard to call them."""

    invoke_url: str | None = Field(default=None, description="General OCR domain invoke URL.")
    secret: SecretStr | None = None
    template_invoke_url: str | None = Field(
        default=None, description="Template OCR domain invoke URL (default: invoke_url)."
    )
    template_secret: SecretStr | None = Field(default=None, description="Default: secret.")
    transport: Literal["json", "multipart"] = "multipart"
    concurrency: int = Field(default=4, ge=1)
    rate_limit_per_second: float | None = Field(default=None, gt=0)
    timeout_seconds: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=4, ge=0)
    resend_unreadable: bool = Field(
        default=False,
        description="Send a request once more when its 2xx answer cannot be read (the service "
        "billed it: the re-send is billed again, and counted). Off: it ends failed with "
        "unreadable_answer, its bytes kept; --force re-sends it.",
    )


class RouteRule(_Section):
    """Keys matching ``pattern`` become requests with these options.

    ``pattern`` is a glob over the key (``*`` within a path segment, ``**`` across segments);
    ``{template_id}`` matches one segment of digits and becomes the request's templateId.
    """

    name: str
    pattern: str
    api: Literal["general", "template"] = "general"
    version: Literal["V1", "V2"] = "V2"
    lang: str | None = None
    template_ids: list[int] | None = None
    enable_table_detection: bool = False

    @field_validator("pattern")
    @classmethod
    def _relative(cls, v: str) -> str:
        if v.startswith("/"):
            raise ValueError("route patterns are relative to the source root")
        return v

    @field_validator("lang")
    @classmethod
    def _lang(cls, v: str | None) -> str | None:
        # Canonical spelling, so that "KO" and "ko" give the same request_id.
        if v is None:
            return None
        from clova_etl.client import LANGUAGES

        by_lower = {lang.lower(): lang for lang in LANGUAGES}
        out: list[str] = []
        for part in v.split(","):
            key = part.strip().lower()
            if key not in by_lower:
                raise ValueError(f"lang {part.strip()!r} is not one of {', '.join(LANGUAGES)}")
            if by_lower[key] not in out:
                out.append(by_lower[key])
        return ",".join(out) or None

    @model_validator(mode="after")
    def _options_fit_api(self) -> RouteRule:
        if self.api == "general" and self.template_ids:
            raise ValueError(f"route {self.name!r}: template_ids need api = 'template'")
        if self.api == "template" and self.enable_table_detection:
            raise ValueError(f"route {self.name!r}: table detection is General OCR only")
        if "{template_id}" in self.pattern and self.api != "template":
            raise ValueError(f"route {self.name!r}: {{template_id}} needs api = 'template'")
        return self


def default_routes() -> list[RouteRule]:
    """The routing of the embedded set-up (see the README)."""
    return [
        RouteRule(
            name="general",
            pattern="inbox/general/**",
            api="general",
            enable_table_detection=True,
        ),
        RouteRule(name="template", pattern="inbox/template/{template_id}/**", api="template"),
    ]


class LimitsConfig(_Section):
    """Service limits (from the API reference) and the pipeline's own safety limits."""

    max_object_bytes: int = Field(default=500 * MB, gt=0, description="Larger: never read.")
    max_object_pages: int = Field(default=1000, gt=0, description="More pages: rejected.")
    general_max_bytes: int = Field(default=50 * MB, gt=0)
    template_max_bytes: int = Field(default=20 * MB, gt=0, description="Images (JPG/PNG).")
    template_document_max_bytes: int = Field(default=50 * MB, gt=0, description="PDF/TIFF.")
    general_max_pages: int = Field(default=10, gt=0, description="Pages per General request.")
    template_max_pages: int = Field(default=5, gt=0, description="Pages per Template request.")
    max_pixels: int = Field(
        default=150_000_000,
        gt=0,
        description="Images with more pixels are refused (too_large) before decoding: the "
        "decompression-bomb guard. The default takes an A0 scan at 300 dpi (9933x14043).",
    )

    def max_bytes(self, api: str, fmt: str) -> int:
        """Largest request body the API takes for this format."""
        if api == "template":
            return (
                self.template_document_max_bytes
                if fmt in ("pdf", "tiff")
                else (self.template_max_bytes)
            )
        return self.general_max_bytes

    def max_pages(self, api: str) -> int:
        """Pages per request the API takes."""
        return self.template_max_pages if api == "template" else self.general_max_pages


class BudgetConfig(_Section):
    """Spending limits, checked before each batch is sent (None = unlimited)."""

    max_calls_per_run: int | None = Field(default=None, ge=0)
    max_pages_per_run: int | None = Field(default=None, ge=0)
    scope: str | None = Field(
        default=None,
        description="Budget scope spanning runs (e.g. a backfill's name); the per-scope limits "
        "count every billable call recorded under it.",
    )
    max_calls_per_scope: int | None = Field(default=None, ge=0)
    max_pages_per_scope: int | None = Field(default=None, ge=0)

    @property
    def limits_run(self) -> bool:
        """Whether a per-run limit is set (the run's spending is counted before each batch)."""
        return self.max_calls_per_run is not None or self.max_pages_per_run is not None

    @property
    def limits_scope(self) -> bool:
        """Whether a per-scope limit applies (the scope's spending is counted before each batch)."""
        limited = self.max_calls_per_scope is not None or self.max_pages_per_scope is not None
        return bool(self.scope) and limited


class RunConfig(_Section):
    """Batching and retry behaviour of a run."""

    batch_size: int = Field(
        default=16,
        ge=1,
        description="Requests claimed (and budget-reserved) together. The next group is claimed "
        "while the last is in flight, so the `ocr.concurrency` slots stay busy; `clova-etl "
        "ingest` sends a whole run as one stream.",
    )
    max_batches: int = Field(
        default=64,
        ge=1,
        le=1024,
        description="Most batches (Airflow: mapped `ocr` tasks) per run; a larger run gets "
        "larger batches, each still claimed and sent `batch_size` requests at a time. At most "
        "Airflow's `[core] max_map_length` (1024).",
    )
    claim_ttl_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A claim not renewed for this long is stale and may be taken over: a live "
        "worker renews its claims every quarter of it, so a dead worker's requests are taken "
        "over this long after it died.",
    )
    max_read_attempts: int = Field(
        default=3,
        ge=1,
        description="Runs in which reading an object may fail (permission denied, AccessDenied, "
        "I/O error) before it is recorded as rejected, reason unreadable.",
    )
    max_transient_failures: int = Field(
        default=3,
        ge=1,
        description="Runs in which a request may fail transiently (network, 5xx, throttling) "
        "before it is recorded as failed for good.",
    )


class PipelineConfig(_Section):
    """Everything a run needs; no code edits required to point it elsewhere."""

    source: SourceConfig = Field(default_factory=SourceConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    warehouse: WarehouseConfig = Field(default_factory=WarehouseConfig)
    ocr: OCRConfig = Field(default_factory=OCRConfig)
    routes: list[RouteRule] = Field(default_factory=default_routes)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    run: RunConfig = Field(default_factory=RunConfig)

    def public_dict(self) -> dict[str, Any]:
        """JSON-ready settings without any secret (for logs, reports and XCom)."""
        return self.model_dump(
            mode="json",
            exclude={
                "source": {"secret"},
                "store": {"secret"},
                "ocr": {"secret", "template_secret"},
            },
        )


_SECTIONS: dict[str, type[_Section]] = {
    "source": SourceConfig,
    "store": StoreConfig,
    "warehouse": WarehouseConfig,
    "ocr": OCRConfig,
    "limits": LimitsConfig,
    "budget": BudgetConfig,
    "run": RunConfig,
}


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        if rest == "routes":
            out["routes"] = orjson.loads(value)
            continue
        section, _, field = rest.partition("_")
        model = _SECTIONS.get(section)
        if model is None or field not in model.model_fields:
            raise ValueError(f"unknown configuration variable {name}")
        parsed: Any = value
        if field == "options" or field in {"template_ids", "ignore"}:
            parsed = orjson.loads(value)
        out.setdefault(section, {})[field] = parsed
    if INVOKE_URL_ENV in env:
        out.setdefault("ocr", {}).setdefault("invoke_url", env[INVOKE_URL_ENV])
    if SECRET_ENV in env:
        out.setdefault("ocr", {}).setdefault("secret", env[SECRET_ENV])
    if TEMPLATE_INVOKE_URL_ENV in env:
        out.setdefault("ocr", {}).setdefault("template_invoke_url", env[TEMPLATE_INVOKE_URL_ENV])
    if TEMPLATE_SECRET_ENV in env:
        out.setdefault("ocr", {}).setdefault("template_secret", env[TEMPLATE_SECRET_ENV])
    return out


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping):
            current = merged.get(key)
            merged[key] = _merge(dict(current) if isinstance(current, Mapping) else {}, value)
        elif value is not None:
            merged[key] = value
    return merged


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> PipelineConfig:
    """Defaults, then the TOML file (``path`` or ``$CLOVA_ETL_CONFIG``), then env, then overrides.

    ``overrides`` is nested like the TOML (``{"source": {"uri": ...}}``); None values are ignored
    so command-line flags that were not given do not erase anything.
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    path = path or env.get(CONFIG_ENV)
    if path:
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
    data = _merge(data, _env_overrides(env))
    if overrides:
        data = _merge(data, overrides)
    return PipelineConfig.model_validate(data)


__all__ = [
    "BudgetConfig",
    "LimitsConfig",
    "OCRConfig",
    "PipelineConfig",
    "RouteRule",
    "RunConfig",
    "SourceConfig",
    "StorageConfig",
    "StoreConfig",
    "WarehouseConfig",
    "default_routes",
    "load_config",
]
