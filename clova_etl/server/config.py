"""Settings of the local CLOVA-compatible OCR server (one object for the CLI and the tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

SECRET_ENV = "CLOVA_OCR_SECRET"  # noqa: S105 - the variable name, not a secret

# The reference's service limits.
GENERAL_MAX_BYTES = 50 * 1024 * 1024
TEMPLATE_MAX_BYTES = 20 * 1024 * 1024
TEMPLATE_MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # PDF and TIFF on the template API
GENERAL_MAX_PAGES = 10
TEMPLATE_MAX_PAGES = 5


def _default_templates() -> dict[int, str]:
    # The templates drawn by ``clova-etl samples`` are "deployed" unless told otherwise.
    from clova_etl.samples.templates import TEMPLATES

    return {t.id: t.name for t in TEMPLATES}


@dataclass
class ServerConfig:
    """Everything that shapes the server's behaviour, faults included.

    Every fault is decided per call from a random generator seeded by ``seed``, so a run with
    the same seed and the same call order sees the same faults.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    secret: str = field(default="", repr=False)
    engine: str = "synthetic"
    # Requests per second accepted (token bucket, burst = max(1, rate)); None = unlimited.
    rate_limit: float | None = None
    # Billable calls accepted before every call answers 0023; None = unlimited.
    quota: int | None = None
    fail_rate: float = 0.0
    malformed_rate: float = 0.0
    drop_rate: float = 0.0
    latency_ms: float = 0.0
    seed: int = 0
    table_detection: bool = True
    # Hosts whose ``images[].url`` the server may fetch; empty = no URL is fetched.
    allow_url_hosts: frozenset[str] = frozenset()
    # Domain ids accepted in /custom/v1/{domain}/...; empty = any domain.
    domains: frozenset[str] = frozenset()
    # Templates deployed on the domain: id -> name.
    templates: dict[int, str] = field(default_factory=_default_templates)
    # Pixel density PDF pages are rendered at (convertedImageInfo is in that pixel space).
    pdf_dpi: float = 144.0
    general_max_bytes: int = GENERAL_MAX_BYTES
    template_max_bytes: int = TEMPLATE_MAX_BYTES
    template_max_document_bytes: int = TEMPLATE_MAX_DOCUMENT_BYTES
    general_max_pages: int = GENERAL_MAX_PAGES
    template_max_pages: int = TEMPLATE_MAX_PAGES
    url_fetch_timeout: float = 10.0
    log_level: str = "warning"

    def __post_init__(self) -> None:
        if not self.secret:
            self.secret = os.environ.get(SECRET_ENV, "")
        if not self.secret:
            raise ValueError(f"a secret is required (--secret or the {SECRET_ENV} variable)")
        from clova_etl.server.engines import ENGINES

        if self.engine not in ENGINES:
            raise ValueError(f"unknown OCR engine {self.engine!r} (known: {', '.join(ENGINES)})")
        for name in ("fail_rate", "malformed_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be positive")
        if self.quota is not None and self.quota < 0:
            raise ValueError("quota must be >= 0")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        self.allow_url_hosts = frozenset(h.lower() for h in self.allow_url_hosts)
        self.domains = frozenset(self.domains)

    @property
    def max_request_bytes(self) -> int:
        """Largest HTTP body read: the biggest document limit, base64-inflated, plus slack."""
        biggest = max(
            self.general_max_bytes, self.template_max_bytes, self.template_max_document_bytes
        )
        return biggest * 4 // 3 + 1024 * 1024

    def public_dict(self) -> dict[str, Any]:
        """The settings without the secret (for logs and the stats endpoint)."""
        return {
            "engine": self.engine,
            "rate_limit": self.rate_limit,
            "quota": self.quota,
            "fail_rate": self.fail_rate,
            "malformed_rate": self.malformed_rate,
            "drop_rate": self.drop_rate,
            "latency_ms": self.latency_ms,
            "seed": self.seed,
            "table_detection": self.table_detection,
            "allow_url_hosts": sorted(self.allow_url_hosts),
            "domains": sorted(self.domains),
            "templates": {str(k): v for k, v in sorted(self.templates.items())},
            "pdf_dpi": self.pdf_dpi,
        }
