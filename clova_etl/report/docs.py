"""The README's reference sections, generated from the declarations so that they never drift.

Each generated section sits between ``<!-- generated:NAME:begin -->`` and
``<!-- generated:NAME:end -->`` in README.md. ``python -m clova_etl.report.docs [README]``
rewrites them; ``--check`` exits 1 when one differs (a test runs the same comparison).

- ``tables``: every warehouse table and column (:mod:`clova_etl.schema`, SQL types of
  :mod:`clova_etl.warehouse.ddl`);
- ``views`` and ``checks``: ``clova_etl.warehouse.VIEWS`` and ``CHECKS``;
- ``config``: every setting of :class:`clova_etl.config.PipelineConfig` with its TOML key,
  environment variable and default;
- ``store``: the store layout documented by :mod:`clova_etl.pipeline.ledger`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

__all__ = [
    "README_PATH",
    "SECTIONS",
    "checks_markdown",
    "config_markdown",
    "main",
    "render_readme",
    "stale_sections",
    "store_layout_markdown",
    "tables_markdown",
    "views_markdown",
]

README_PATH = Path(__file__).resolve().parents[2] / "README.md"

# Settings whose declaration carries no description yet: what they mean, for the README.
_MEANING: dict[tuple[str, str], str] = {
    ("source", "uri"): "Bucket or folder documents are dropped into (`s3://bucket`, a path).",
    ("store", "uri"): "Where raw responses, claims, billing and Parquet live.",
    ("warehouse", "uri"): "`duckdb:///path/file.duckdb` or `postgresql://user@host:port/db`.",
    ("source", "endpoint_url"): "S3-compatible endpoint (NCP Object Storage, MinIO…).",
    ("store", "endpoint_url"): "S3-compatible endpoint (NCP Object Storage, MinIO…).",
    ("source", "region_name"): "S3 region (NCP: `kr-standard`).",
    ("store", "region_name"): "S3 region (NCP: `kr-standard`).",
    ("ocr", "secret"): "`X-OCR-SECRET` of the General domain.",
    ("ocr", "transport"): "`multipart` (file upload, streamed) or `json` (base64 in the body).",
    ("ocr", "concurrency"): "Requests in flight at once.",
    ("ocr", "rate_limit_per_second"): "Client-side cap on calls per second (none by default).",
    ("ocr", "timeout_seconds"): "Timeout of one HTTP attempt.",
    ("ocr", "max_retries"): "Retries of a transient failure (5xx, 0025 throttling, network).",
    ("limits", "general_max_bytes"): "Largest body General OCR takes.",
    ("budget", "max_calls_per_run"): "Billable calls one run may make.",
    ("budget", "max_pages_per_run"): "Billable pages one run may send.",
    ("budget", "max_calls_per_scope"): "Billable calls of all runs of `budget.scope` together.",
    ("budget", "max_pages_per_scope"): "Billable pages of all runs of `budget.scope` together.",
}

# Extra environment variable names read for a setting.
_ALIASES: dict[tuple[str, str], str] = {
    ("ocr", "invoke_url"): "CLOVA_OCR_INVOKE_URL",
    ("ocr", "secret"): "CLOVA_OCR_SECRET",
    ("ocr", "template_invoke_url"): "CLOVA_OCR_TEMPLATE_INVOKE_URL",
    ("ocr", "template_secret"): "CLOVA_OCR_TEMPLATE_SECRET",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def tables_markdown() -> str:
    """Every warehouse table: grain, key, parent, and its columns with SQL types."""
    from clova_etl.warehouse.ddl import sql_type, warehouse_tables

    lines: list[str] = []
    for table in warehouse_tables().values():
        parent = f"; parent `{table.parent}`" if table.parent else ""
        lines += [
            f"#### `{table.name}`",
            "",
            f"{table.description} Grain: {table.grain}. Key: `{', '.join(table.key)}`{parent}.",
            "",
            "| column | DuckDB / PostgreSQL | null | meaning |",
            "|---|---|---|---|",
        ]
        for c in table.columns:
            types = f"{sql_type('duckdb', c.type).ddl} / {sql_type('postgres', c.type).ddl}"
            lines.append(
                f"| `{c.name}` | {types} | {'yes' if c.nullable else 'no'} | "
                f"{_cell(c.description)} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def views_markdown() -> str:
    """The analyst views and what each shows."""
    from clova_etl.warehouse import VIEWS

    lines = ["| view | shows |", "|---|---|"]
    lines += [f"| `{v.name}` | {_cell(v.description)} |" for v in VIEWS]
    return "\n".join(lines) + "\n"


def checks_markdown() -> str:
    """The validation checks, their severity and what they assert."""
    from clova_etl.warehouse import CHECKS

    lines = ["| check | severity | asserts |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.severity} | {_cell(c.description)} |" for c in CHECKS]
    return "\n".join(lines) + "\n"


def _default(info: Any) -> str:
    value = info.default_factory() if info.default_factory is not None else info.default
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return ""
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, list | dict):
        import json

        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def config_markdown() -> str:
    """Every setting: TOML key, environment variable, default, meaning."""
    from clova_etl.config import ENV_PREFIX, PipelineConfig

    lines = ["| TOML key | environment variable | default | meaning |", "|---|---|---|---|"]
    for section, section_info in PipelineConfig.model_fields.items():
        model = section_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, info in model.model_fields.items():
            env = f"`{ENV_PREFIX}{section.upper()}_{name.upper()}`"
            alias = _ALIASES.get((section, name))
            if alias:
                env += f", `{alias}`"
            meaning = info.description or _MEANING.get((section, name), "")
            if not meaning:
                raise ValueError(f"setting {section}.{name} has no description")
            if name in {"options", "ignore", "template_ids"}:
                meaning += " (environment: JSON)"
            lines.append(f"| `{section}.{name}` | {env} | {_default(info)} | {_cell(meaning)} |")
    lines.append(
        f"| `[[routes]]` | `{ENV_PREFIX}ROUTES` (JSON list) | general + template, see above | "
        "Routing rules: key glob → API and options. |"
    )
    return "\n".join(lines) + "\n"


def store_layout_markdown() -> str:
    """The store layout block of :mod:`clova_etl.pipeline.ledger`'s docstring."""
    from clova_etl.pipeline import ledger

    doc = ledger.__doc__ or ""
    match = re.search(r"Layout of the store[^\n]*::\n\n((?:    .*\n)+)", doc)
    if match is None:
        raise ValueError("clova_etl.pipeline.ledger no longer documents the store layout")
    block = "\n".join(line[4:] for line in match.group(1).rstrip("\n").splitlines())
    return f"```text\n{block}\n```\n"


SECTIONS: dict[str, Callable[[], str]] = {
    "config": config_markdown,
    "store": store_layout_markdown,
    "views": views_markdown,
    "checks": checks_markdown,
    "tables": tables_markdown,
}


def _marker(name: str, end: str) -> str:
    return f"<!-- generated:{name}:{end} -->"


def _span(text: str, name: str) -> tuple[int, int]:
    begin, end = _marker(name, "begin"), _marker(name, "end")
    start = text.find(begin)
    stop = text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"README has no {begin} … {end} section")
    return start + len(begin), stop


def render_readme(text: str) -> str:
    """``text`` with every generated section replaced by what the code generates now."""
    for name, build in SECTIONS.items():
        start, stop = _span(text, name)
        text = text[:start] + "\n" + build() + text[stop:]
    return text


def stale_sections(text: str) -> list[str]:
    """Names of the generated sections of ``text`` that differ from the code."""
    stale = []
    for name, build in SECTIONS.items():
        start, stop = _span(text, name)
        if text[start:stop] != "\n" + build():
            stale.append(name)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite (or ``--check``) the generated sections of README.md."""
    parser = argparse.ArgumentParser(description="Regenerate the README's reference sections.")
    parser.add_argument("readme", nargs="?", type=Path, default=README_PATH)
    parser.add_argument("--check", action="store_true", help="only report stale sections")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    if args.check:
        stale = stale_sections(text)
        for name in stale:
            print(f"stale: section {name!r} of {args.readme}", file=sys.stderr)
        return 1 if stale else 0
    new = render_readme(text)
    if new != text:
        args.readme.write_text(new, encoding="utf-8")
        print(f"rewrote the generated sections of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
