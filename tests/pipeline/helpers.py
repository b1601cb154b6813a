"""Helpers of the end-to-end pipeline tests: buckets of samples, warehouse reads, racing workers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from clova_etl.config import OCRConfig, PipelineConfig
from clova_etl.server import RunningServer

from .conftest import docx, encrypted_pdf, jpeg, put

# Samples and where they go: (sample name, key in the bucket).
GOOD = [
    ("receipt-ko", "inbox/general/receipts/receipt-ko.png"),
    ("invoice-table", "inbox/general/invoice table (1).png"),
    ("contract-3p", "inbox/general/contracts/계약서.pdf"),
    ("fax-2p", "inbox/general/fax-2p.tiff"),
    ("claim-form", "inbox/template/1001/claim-form.png"),
]
# Bad inputs: key → expected error code of its etl_objects row.
BAD = {
    "inbox/general/empty.jpg": "empty_file",
    "inbox/general/letter.docx": "unsupported_format",
    "inbox/general/letter-renamed.pdf": "unsupported_format",
    "inbox/general/locked.pdf": "encrypted",
    "inbox/general/cut.jpg": "unreadable",
    "inbox/general/huge.jpg": "too_large",
    "inbox/unrouted/a.jpg": "no_route",
}


def with_server(config: PipelineConfig, server: RunningServer, **ocr: Any) -> PipelineConfig:
    """The config pointed at a local OCR server."""
    fields: dict[str, Any] = {
        "invoke_url": server.invoke_url("general"),
        "secret": server.secret,
        "max_retries": 1,
        **ocr,
    }
    return config.model_copy(update={"ocr": OCRConfig(**fields)})


def fill_good(config: PipelineConfig, sample_docs: dict[str, Path]) -> list[str]:
    """Put the good samples in the bucket; return their keys."""
    for name, key in GOOD:
        path = Path(config.source.uri) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample_docs[name], path)
    return [key for _, key in GOOD]


def fill_bad(config: PipelineConfig) -> None:
    """Put one object of every kind of bad input in the bucket."""
    put(config, "inbox/general/empty.jpg", b"")
    put(config, "inbox/general/letter.docx", docx())
    put(config, "inbox/general/letter-renamed.pdf", docx("renamed"))
    put(config, "inbox/general/locked.pdf", encrypted_pdf())
    put(config, "inbox/general/cut.jpg", jpeg(900, 700)[:4000])
    put(config, "inbox/general/huge.jpg", b"\xff\xd8\xff" + os.urandom(1_100_000))
    put(config, "inbox/unrouted/a.jpg", jpeg(seed=9))


def query(config: PipelineConfig, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the DuckDB warehouse (read-only connection)."""
    import duckdb

    path = config.warehouse.uri.removeprefix("duckdb:///")
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def snapshot(config: PipelineConfig) -> dict[str, list[tuple[Any, ...]]]:
    """Every OCR table and etl_objects, sorted, for before/after comparisons."""
    from clova_etl.schema import ETL_OBJECTS, TABLES

    return {
        name: query(config, f"SELECT * FROM ocr.{name} ORDER BY ALL")
        for name in [*TABLES, ETL_OBJECTS.name]
    }


def billed_once(stats: dict[str, Any]) -> bool:
    """Whether no request id was billed more than once."""
    return all(n == 1 for n in stats["billable_by_request_id"].values())


def race_worker(config_json: dict[str, Any], secret: str, batch: Any, run_id: str) -> Any:
    """One worker process running ocr_batch (spawned: must be importable)."""
    from clova_etl.config import PipelineConfig
    from clova_etl.pipeline import ocr_batch

    config = PipelineConfig.model_validate(config_json)
    config.ocr.secret = secret  # type: ignore[assignment]
    return ocr_batch(config, batch, run_id)
