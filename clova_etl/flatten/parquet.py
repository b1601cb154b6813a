"""Flattened batches → ``out_dir/<table>/part-NNNNN.parquet``, byte-identical for equal inputs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from clova_etl.cores import available_cores
from clova_etl.flatten.core import (
    DEFAULT_BATCH_BYTES,
    Input,
    Source,
    flatten_batch,
    iter_batches,
    iter_sources,
    run_ordered,
)
from clova_etl.schema import TABLES

# Fixed writer settings: the same rows always give the same bytes (no times in the metadata).
# Snappy: a third faster to write than zstd level 1 here, for files about a third larger.
WRITE_OPTIONS: dict[str, object] = {
    "compression": "snappy",
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
}
PART_GLOB = "part-*.parquet"


@dataclass(frozen=True)
class FailedDocument:
    """A document that produced an ocr_requests row but no result rows."""

    name: str
    request_id: str
    status: str
    error_code: str | None
    error_message: str | None


@dataclass
class FlattenSummary:
    """What :func:`flatten_to_parquet` wrote."""

    out_dir: Path
    documents: int = 0
    input_bytes: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    files: list[Path] = field(default_factory=list)
    failed: list[FailedDocument] = field(default_factory=list)


@dataclass(frozen=True)
class _BatchResult:
    documents: int
    input_bytes: int
    rows: dict[str, int]
    files: list[Path]
    failed: list[FailedDocument]


def part_name(number: int) -> str:
    """File name of batch ``number``."""
    return f"part-{number:05d}.parquet"


def write_table(table: pa.Table, path: Path) -> None:
    """Write one table as one row group, atomically (temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    # Dictionaries pay off for repeated strings (request_id, type...); on coordinates they
    # cost time and grow the file.
    strings = [f.name for f in table.schema if pa.types.is_string(f.type)]
    pq.write_table(
        table,
        tmp,
        row_group_size=max(1, table.num_rows),
        use_dictionary=strings,
        **WRITE_OPTIONS,
    )
    os.replace(tmp, path)


def _failed(requests: pa.Table) -> list[FailedDocument]:
    rows = requests.select(["raw_uri", "request_id", "status", "error_code", "error_message"])
    return [
        FailedDocument(
            r["raw_uri"], r["request_id"], r["status"], r["error_code"], r["error_message"]
        )
        for r in rows.to_pylist()
        if r["status"] != "succeeded"
    ]


def _write_batch(dirs: Mapping[str, Path], number: int, batch: list[Source]) -> _BatchResult:
    """Flatten one batch and write its part files (runs in a worker process)."""
    tables = flatten_batch(batch)
    files = []
    for name, table in tables.items():
        path = dirs[name] / part_name(number)
        write_table(table, path)
        files.append(path)
    return _BatchResult(
        documents=len(batch),
        input_bytes=sum(s.size for s in batch),
        rows={name: t.num_rows for name, t in tables.items()},
        files=files,
        failed=_failed(tables["ocr_requests"]),
    )


def flatten_to_parquet(
    inputs: Iterable[Input],
    out_dir: str | os.PathLike[str],
    *,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    workers: int | None = None,
    processes: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> FlattenSummary:
    """Flatten files, directories or ``(name, bytes)`` items into one Parquet dataset per table.

    Earlier ``part-*.parquet`` files in ``out_dir/<table>/`` are removed first, so the dataset
    holds exactly these inputs. Every batch writes one file per table (empty tables included), so
    ``read_parquet('out_dir/<table>/*.parquet')`` always finds files. Batches run in
    ``workers`` processes (default: one per core; ``processes=False``: threads of this process);
    each process reads, flattens and writes its own batches, so only summaries come back.
    ``on_batch`` is called with the number of documents of each batch written (for progress).
    """
    root = Path(out_dir)
    dirs = {name: root / name for name in TABLES}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob(PART_GLOB):
            old.unlink()

    summary = FlattenSummary(out_dir=root)
    batches = iter_batches(iter_sources(inputs), batch_bytes)
    n = available_cores() if workers is None else workers
    work = partial(_write_batch, dirs)
    for result in run_ordered(work, batches, n, processes=processes):
        summary.documents += result.documents
        summary.input_bytes += result.input_bytes
        for name, count in result.rows.items():
            summary.rows[name] += count
        summary.files.extend(result.files)
        summary.failed.extend(result.failed)
        if on_batch is not None:
            on_batch(result.documents)
    if summary.documents == 0:
        # No input: still one (empty) file per table, so readers find a dataset.
        for name, d in dirs.items():
            path = d / part_name(0)
            write_table(TABLES[name].arrow_schema.empty_table(), path)
            summary.files.append(path)
    return summary


__all__ = [
    "WRITE_OPTIONS",
    "FailedDocument",
    "FlattenSummary",
    "flatten_to_parquet",
    "part_name",
    "write_table",
]
