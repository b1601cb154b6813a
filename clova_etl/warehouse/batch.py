"""A batch of Parquet tables to load: ``DIR/<table>/**/*.parquet``, checked against the schema.

Scanning reads only footers and the ``request_id`` column (dictionary-encoded, so a few
milliseconds per million rows): row counts, the set of request_ids the load replaces, and every
file's columns are known before the load's transaction opens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from clova_etl import schema as declared
from clova_etl.schema import Table
from clova_etl.warehouse.errors import ParquetInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableFiles:
    """The Parquet files of one table in a batch."""

    table: Table
    files: tuple[Path, ...]
    rows: int
    columns: tuple[str, ...]
    """Declared columns present in at least one file, in declared order."""
    uniform: bool
    """Whether every file has exactly these columns (else missing ones read as null)."""

    @property
    def read_schema(self) -> pa.Schema:
        """Arrow schema to read the files with (all nullable: the database checks NOT NULL)."""
        return pa.schema(
            [pa.field(c, self.table.column(c).type, nullable=True) for c in self.columns]
        )

    def dataset(self) -> ds.Dataset:
        """The files as one dataset cast to the declared types."""
        return ds.dataset([str(f) for f in self.files], schema=self.read_schema, format="parquet")

    def duplicate_keys(self, limit: int) -> tuple[int, list[str]]:
        """Keys that occur more than once in the files: (count, a few keys as text)."""
        keys = list(self.table.key)
        data = self.dataset().to_table(columns=keys)
        counts = data.group_by(keys).aggregate([([], "count_all")])
        dups = counts.filter(pc.greater(counts["count_all"], 1))
        samples = [
            f"{self.table.name}(" + ", ".join(f"{k}={row[k]}" for k in keys) + ")"
            for row in dups.slice(0, limit).to_pylist()
        ]
        return dups.num_rows, sorted(samples)


@dataclass(frozen=True)
class ParquetBatch:
    """The tables of one Parquet folder, ready to load."""

    root: Path
    tables: dict[str, TableFiles]
    """OCR tables that have files, parents before children."""
    objects: TableFiles | None
    """The etl_objects files, if any."""
    request_ids: pa.Array
    """Distinct request_ids over every OCR table of the batch (sorted strings)."""

    @property
    def expected_rows(self) -> dict[str, int]:
        """Parquet rows per OCR table (0 for a table without files)."""
        tables = self.tables
        return {name: (tables[name].rows if name in tables else 0) for name in declared.TABLES}

    def expected_rows_of(self, request_ids: pa.Array) -> dict[str, int]:
        """Parquet rows per OCR table that belong to ``request_ids`` (a part of the batch)."""
        if len(request_ids) == len(self.request_ids):
            return self.expected_rows
        out = dict.fromkeys(declared.TABLES, 0)
        if not len(request_ids):  # an unchanged replay: nothing to count
            return out
        for name, tf in self.tables.items():
            for chunk in _request_id_chunks(tf):
                if isinstance(chunk, pa.DictionaryArray):
                    # Test the dictionary, then count its codes: no string work per row.
                    wanted = pc.is_in(chunk.dictionary.cast(pa.string()), value_set=request_ids)
                    out[name] += int(pc.sum(wanted.take(chunk.indices)).as_py() or 0)
                else:
                    out[name] += int(pc.sum(pc.is_in(chunk, value_set=request_ids)).as_py() or 0)
        return out

    def content_hashes(self) -> pa.Table | None:
        """``(request_id, content_hash)`` of the batch's requests that carry a hash, if any."""
        requests = self.tables.get(declared.OCR_REQUESTS.name)
        if requests is None or "content_hash" not in requests.columns:
            return None
        data = requests.dataset().to_table(columns=["request_id", "content_hash"])
        return data.filter(pc.is_valid(data["content_hash"]))


def _normalize(type_: pa.DataType) -> pa.DataType:
    """The logical type of a Parquet column as declared types spell it."""
    if pa.types.is_dictionary(type_):
        return _normalize(type_.value_type)
    if pa.types.is_large_string(type_) or pa.types.is_string_view(type_):
        return pa.string()
    if pa.types.is_large_list(type_) or pa.types.is_list_view(type_):
        return pa.list_(_normalize(type_.value_type))
    if pa.types.is_list(type_):
        return pa.list_(_normalize(type_.value_type))
    if pa.types.is_timestamp(type_) and type_.tz is not None:
        # Any unit and zone denotes an instant; the declared column is UTC microseconds.
        return pa.timestamp("us", tz="UTC")
    return type_


def _file_schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise ParquetInputError(
            f"{path} is not a readable Parquet file ({exc}); re-run flatten to rewrite it"
        ) from exc


def _scan_table(table: Table, files: list[Path]) -> TableFiles:
    present: set[str] = set()
    shapes: set[frozenset[str]] = set()
    rows = 0
    for path in files:
        file_schema = _file_schema(path)
        names = set(file_schema.names)
        unknown = sorted(names - set(table.column_names))
        if unknown:
            raise ParquetInputError(
                f"{path} has column(s) {unknown} that {table.name} does not declare; "
                "the file was written by a newer clova-etl: upgrade this one"
            )
        required = [c.name for c in table.columns if not c.nullable or c.name in table.key]
        missing = [c for c in required if c not in names]
        if missing:
            raise ParquetInputError(
                f"{path} lacks required column(s) {missing} of {table.name}; re-run flatten"
            )
        for f in file_schema:
            want = table.column(f.name).type
            if not _normalize(f.type).equals(want):
                raise ParquetInputError(
                    f"{path}: column {table.name}.{f.name} is {f.type}, declared {want}; "
                    "re-run flatten with this version of clova-etl"
                )
        try:
            rows += pq.ParquetFile(path).metadata.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise ParquetInputError(f"{path} is not a readable Parquet file ({exc})") from exc
        present |= names
        shapes.add(frozenset(names))
    columns = tuple(c for c in table.column_names if c in present)
    return TableFiles(table, tuple(files), rows, columns, uniform=len(shapes) <= 1)


def _request_id_chunks(tf: TableFiles) -> Iterable[pa.Array]:
    """The request_id column of every file of ``tf``, dictionary-encoded where Parquet is."""
    for path in tf.files:
        try:
            column = pq.read_table(
                path, columns=["request_id"], read_dictionary=["request_id"]
            ).column(0)
        except (OSError, pa.ArrowException) as exc:
            raise ParquetInputError(f"{path}: cannot read request_id ({exc})") from exc
        yield from column.chunks


def _request_ids(tables: Iterable[TableFiles]) -> pa.Array:
    uniques: list[pa.Array] = []
    for tf in tables:
        for chunk in _request_id_chunks(tf):
            if isinstance(chunk, pa.DictionaryArray):
                used = pc.unique(chunk.indices).drop_null()
                uniques.append(chunk.dictionary.take(used).cast(pa.string()))
            else:
                uniques.append(pc.unique(chunk).drop_null().cast(pa.string()))
    if not uniques:
        return pa.array([], pa.string())
    distinct = pc.unique(pa.chunked_array(uniques, pa.string()).combine_chunks())
    return pc.take(distinct, pc.sort_indices(distinct))


def _files(folder: Path) -> list[Path]:
    # Names starting with "." or "_" are writers' temporary files and markers (Spark, pyarrow).
    return sorted(
        p
        for p in folder.rglob("*.parquet")
        if p.is_file() and not any(part[0] in "._" for part in p.relative_to(folder).parts)
    )


def scan_batch(parquet_dir: str | Path) -> ParquetBatch:
    """Scan ``parquet_dir``; raise :class:`ParquetInputError` if it holds nothing loadable."""
    root = Path(parquet_dir)
    if not root.is_dir():
        raise ParquetInputError(
            f"{root} is not a folder; pass the folder flatten wrote (it holds ocr_requests/ …)"
        )
    tables: dict[str, TableFiles] = {}
    for name, table in declared.TABLES.items():
        files = _files(root / name)
        if files:
            tables[name] = _scan_table(table, files)
    object_files = _files(root / declared.ETL_OBJECTS.name)
    objects = _scan_table(declared.ETL_OBJECTS, object_files) if object_files else None
    if not tables and objects is None:
        expected = ", ".join([*declared.TABLES, declared.ETL_OBJECTS.name])
        raise ParquetInputError(
            f"{root} holds no Parquet tables: expected <table>/*.parquet folders ({expected})"
        )
    known = {*declared.TABLES, declared.ETL_OBJECTS.name}
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name not in known and _files(child):
            log.warning("ignoring %s: not a table clova-etl loads", child)
    return ParquetBatch(root, tables, objects, _request_ids(tables.values()))


__all__ = ["ParquetBatch", "TableFiles", "scan_batch"]
