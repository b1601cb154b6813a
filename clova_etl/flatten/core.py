"""Inputs → batches → tables: the streaming driver shared by the in-memory and Parquet APIs."""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pyarrow as pa

from clova_etl.cores import available_cores
from clova_etl.flatten.build import flatten_parsed
from clova_etl.flatten.documents import parse_batch as _parse
from clova_etl.flatten.documents import prepare
from clova_etl.schema import TABLES

DEFAULT_BATCH_BYTES = 8 * 1024 * 1024
"""Input bytes per batch: one Parquet file per table per batch; memory is a few times this."""

Item = tuple[str, bytes]
Input = str | os.PathLike[str] | Item
T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    """One input document, read lazily from disk or already in memory."""

    name: str
    size: int
    path: Path | None = None
    data: bytes | None = None

    def read(self) -> bytes:
        """The document's bytes."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


def iter_sources(inputs: Iterable[Input]) -> Iterator[Source]:
    """Each input as a :class:`Source`; directories give their ``*.json`` files, sorted."""
    for item in inputs:
        if isinstance(item, tuple):
            name, data = item
            yield Source(name=name, size=len(data), data=bytes(data))
            continue
        path = Path(item)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*.json") if p.is_file()):
                yield Source(name=str(file), size=file.stat().st_size, path=file)
        else:
            yield Source(name=str(path), size=path.stat().st_size, path=path)


def iter_batches(sources: Iterable[Source], batch_bytes: int) -> Iterator[list[Source]]:
    """Consecutive groups of sources of about ``batch_bytes`` (a large document alone)."""
    batch: list[Source] = []
    size = 0
    for source in sources:
        if batch and size + source.size > batch_bytes:
            yield batch
            batch, size = [], 0
        batch.append(source)
        size += source.size
    if batch:
        yield batch


def flatten_batch(sources: Iterable[Source], *, use_threads: bool = False) -> dict[str, pa.Table]:
    """Read, parse and flatten one batch of documents into the seven tables."""
    docs = [prepare(s.name, s.read()) for s in sources]
    if not docs:
        return {name: t.arrow_schema.empty_table() for name, t in TABLES.items()}
    return flatten_parsed(docs, _parse(docs, use_threads=use_threads))


def _executor(workers: int, processes: bool) -> Executor:
    if not processes:
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flatten")
    # fork: a worker starts in milliseconds with pyarrow already imported (spawn re-imports it,
    # about half a second per worker, which a 30 MB run would notice).
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


def run_ordered(
    work: Callable[[int, list[Source]], T],
    batches: Iterable[list[Source]],
    workers: int,
    *,
    processes: bool = False,
) -> Iterator[T]:
    """``work(batch_number, batch)`` over ``batches`` on ``workers`` threads, results in order.

    At most ``workers + 1`` batches are in flight, so memory does not grow with the input.
    ``processes`` runs them in worker processes instead (``work`` and its results must pickle):
    the Python parts of flattening hold the GIL, so threads share one core for them. A single
    batch always runs here, without a pool.
    """
    ahead = iter(batches)
    first = list(itertools.islice(ahead, 2))
    if workers <= 1 or len(first) <= 1:
        for number, batch in enumerate(itertools.chain(first, ahead)):
            yield work(number, batch)
        return
    pending: deque[Future[T]] = deque()
    with _executor(workers, processes) as pool:
        for number, batch in enumerate(itertools.chain(first, ahead)):
            pending.append(pool.submit(work, number, batch))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def iter_flattened(
    inputs: Iterable[Input],
    *,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    workers: int | None = None,
) -> Iterator[dict[str, pa.Table]]:
    """Stream the seven tables batch by batch (same order as the inputs)."""
    batches = iter_batches(iter_sources(inputs), batch_bytes)
    n = available_cores() if workers is None else workers
    yield from run_ordered(lambda _, batch: flatten_batch(batch), batches, n)


def flatten_documents(
    items: Iterable[Input], *, batch_bytes: int = DEFAULT_BATCH_BYTES
) -> dict[str, pa.Table]:
    """All seven tables for ``items`` (``(name, bytes)`` pairs or paths), in memory."""
    parts: dict[str, list[pa.Table]] = {name: [] for name in TABLES}
    for tables in iter_flattened(items, batch_bytes=batch_bytes, workers=1):
        for name, table in tables.items():
            parts[name].append(table)
    return {
        name: pa.concat_tables(p) if p else TABLES[name].arrow_schema.empty_table()
        for name, p in parts.items()
    }


__all__ = [
    "DEFAULT_BATCH_BYTES",
    "Input",
    "Item",
    "Source",
    "flatten_batch",
    "flatten_documents",
    "iter_batches",
    "iter_flattened",
    "iter_sources",
    "run_ordered",
]
