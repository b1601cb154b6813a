"""The one declaration of every table clova-etl writes.

Parquet files, warehouse DDL (DuckDB and PostgreSQL), the checks' key lists and the README's
table reference are all derived from :data:`TABLES`; nothing else names a column's type.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa

# Bumped whenever flattening would produce different rows from the same raw response, so that
# replays can tell which rows came from which parser.
PARSER_VERSION = "1.0.0"

POLYGON = pa.list_(pa.float64())


@dataclass(frozen=True)
class Column:
    """One column: its Arrow type, whether it may be null, and what it means."""

    name: str
    type: pa.DataType
    description: str
    nullable: bool = True

    @property
    def field(self) -> pa.Field:
        return pa.field(self.name, self.type, nullable=self.nullable)


@dataclass(frozen=True)
class Table:
    """One table: its grain, its natural key and its columns in order."""

    name: str
    grain: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    parent: str | None = None
    description: str = ""
    _by_name: dict[str, Column] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate column in {self.name}")
        missing = set(self.key) - set(names)
        if missing:
            raise ValueError(f"key columns {sorted(missing)} not declared in {self.name}")
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([c.field for c in self.columns])

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return self._by_name[name]

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)


def _c(name: str, type_: pa.DataType, description: str, *, nullable: bool = True) -> Column:
    return Column(name, type_, description, nullable)


def _k(name: str, description: str) -> Column:
    type_ = pa.string() if name == "request_id" else pa.int32()
    return Column(name, type_, description, nullable=False)


def _geometry(what: str) -> tuple[Column, ...]:
    return (
        _c(
            "polygon",
            POLYGON,
            f"The {what}'s polygon as [x0, y0, x1, y1, x2, y2, x3, y3] in the API's vertex order "
            "(pixels of the page image; V1 `bounding` becomes the 4 corners clockwise from "
            "top-left). Null when the response has no geometry.",
        ),
        _c("x_min", pa.float64(), f"Left edge of the {what}'s axis-aligned box."),
        _c("y_min", pa.float64(), f"Top edge of the {what}'s axis-aligned box."),
        _c("x_max", pa.float64(), f"Right edge of the {what}'s axis-aligned box."),
        _c("y_max", pa.float64(), f"Bottom edge of the {what}'s axis-aligned box."),
    )


_REQUEST_ID = _k("request_id", "Deterministic request id (UUIDv5 of content hash + options).")
_IMAGE_INDEX = _k("image_index", "Position in the response's `images[]`, from 0.")
_FIELD_INDEX = _k(
    "field_index",
    "Position in the image's `fields[]`, from 0; -1 stands for the image's `title`.",
)
_TABLE_INDEX = _k("table_index", "Position in the image's `tables[]`, from 0.")
_CELL_INDEX = _k("cell_index", "Position in the table's `cells[]`, from 0.")
_PARSER = _c(
    "parser_version", pa.string(), "Version of the flattener that made the row.", nullable=False
)
_TS = pa.timestamp("us", tz="UTC")

OCR_REQUESTS = Table(
    name="ocr_requests",
    grain="one row per OCR request (a source object, or one page chunk of it, with its options)",
    key=("request_id",),
    description="What was asked, of which object, with which options, and how it ended.",
    columns=(
        _REQUEST_ID,
        _c("source_uri", pa.string(), "Object the request was made for (no credentials)."),
        _c("source_sha256", pa.string(), "sha256 of the source bytes (hex)."),
        _c("source_size_bytes", pa.int64(), "Size of the source object in bytes."),
        _c("source_format", pa.string(), "Format sniffed from the bytes: jpg, png, pdf, tiff."),
        _c("source_last_modified", _TS, "Object's last-modified time in the bucket."),
        _c("api", pa.string(), "`general` (/general) or `template` (/infer)."),
        _c("version", pa.string(), "API version requested: V1 or V2."),
        _c("lang", pa.string(), "`lang` sent (e.g. `ko` or `ko,ja`); null for the domain default."),
        _c("template_ids", pa.string(), "`templateIds` sent, comma-separated; null if none."),
        _c("enable_table_detection", pa.bool_(), "Whether `enableTableDetection` was sent."),
        _c("page_start", pa.int32(), "First page (1-based) of the source in this request."),
        _c("page_end", pa.int32(), "Last page (1-based) of the source in this request."),
        _c("pages_sent", pa.int32(), "Pages the request covered (1 for an image)."),
        _c("pages_returned", pa.int32(), "Entries of `images[]` in the response."),
        _c(
            "status",
            pa.string(),
            "succeeded (answer parsed), failed (API or response error) or rejected "
            "(not sent: bad input).",
            nullable=False,
        ),
        _c("error_code", pa.string(), "CLOVA body code (e.g. 0011) or clova-etl reason code."),
        _c("error_message", pa.string(), "Human-readable reason for a failed/rejected request."),
        _c("http_status", pa.int32(), "HTTP status of the final attempt."),
        _c("attempts", pa.int32(), "HTTP attempts made for this request (retries included)."),
        _c("billable", pa.bool_(), "Whether the call is charged (answered with results)."),
        _c("billable_pages", pa.int32(), "Pages charged (images whose result is not ERROR)."),
        _c("requested_at", _TS, "When the first attempt was sent."),
        _c("completed_at", _TS, "When the final answer arrived."),
        _c("duration_ms", pa.int64(), "Wall time of the call, retries included."),
        _c("response_version", pa.string(), "`version` echoed by the response."),
        _c("response_request_id", pa.string(), "`requestId` echoed (not unique: callers reuse)."),
        _c("response_timestamp", _TS, "`timestamp` of the response."),
        _c("raw_uri", pa.string(), "Where the raw response (bronze) is stored."),
        _c("run_id", pa.string(), "Pipeline run that made the call."),
        _PARSER,
        _c(
            "content_hash",
            pa.string(),
            "sha256 (hex) of the stored answer's bytes (raw-store envelope or response file) "
            "and the parser version: a load skips a request whose rows in the warehouse carry "
            "the same hash (null in rows loaded before it existed: they reload once).",
        ),
    ),
)

OCR_IMAGES = Table(
    name="ocr_images",
    grain="one row per entry of `images[]` (a page of a PDF/TIFF)",
    key=("request_id", "image_index"),
    parent="ocr_requests",
    description="Per-page result: inference status, template match, validation, title.",
    columns=(
        _REQUEST_ID,
        _IMAGE_INDEX,
        _c("source_page", pa.int32(), "Page number (1-based) in the source document."),
        _c("uid", pa.string(), "`uid` the service gave the image (changes on every call)."),
        _c("name", pa.string(), "`name` echoed from the request."),
        _c("infer_result", pa.string(), "`inferResult`: SUCCESS, FAILURE or ERROR."),
        _c("message", pa.string(), "`message` of the inference."),
        _c("matched_template_id", pa.int64(), "`matchedTemplate.id` (Template OCR)."),
        _c("matched_template_name", pa.string(), "`matchedTemplate.name` (Template OCR)."),
        _c("validation_result", pa.string(), "`validationResult.result`."),
        _c("validation_message", pa.string(), "`validationResult.message`."),
        _c("converted_width", pa.int32(), "`convertedImageInfo.width` (PDF/TIFF pages)."),
        _c("converted_height", pa.int32(), "`convertedImageInfo.height`."),
        _c("page_index", pa.int32(), "`convertedImageInfo.pageIndex` (0-based, per request)."),
        _c("title_name", pa.string(), "`title.name` (Template OCR)."),
        _c("title_infer_text", pa.string(), "`title.inferText`."),
        _c("title_infer_confidence", pa.float64(), "`title.inferConfidence`."),
        *(Column(f"title_{c.name}", c.type, c.description) for c in _geometry("title")),
        _c("combine_result", pa.string(), "`combineResult` as JSON text, when present."),
        _c("field_count", pa.int32(), "Entries of `fields[]`."),
        _c("table_count", pa.int32(), "Entries of `tables[]`."),
        _PARSER,
    ),
)

OCR_FIELDS = Table(
    name="ocr_fields",
    grain="one row per entry of `fields[]`",
    key=("request_id", "image_index", "field_index"),
    parent="ocr_images",
    description="Recognised text units: words (General OCR) or named fields (Template OCR).",
    columns=(
        _REQUEST_ID,
        _IMAGE_INDEX,
        _FIELD_INDEX,
        _c("name", pa.string(), "`name` (the template field's name; absent in General OCR)."),
        _c("value_type", pa.string(), "`valueType`: ALL, NUMERIC…"),
        _c("infer_text", pa.string(), "`inferText`."),
        _c("infer_confidence", pa.float64(), "`inferConfidence`, 0..1."),
        _c("type", pa.string(), "`type`: NORMAL, MULTI_BOX or CHECKBOX (V2)."),
        _c("checked", pa.bool_(), "`checked` (CHECKBOX fields only)."),
        _c("line_break", pa.bool_(), "`lineBreak`: a line ends after this field (General V2)."),
        _c(
            "line_number",
            pa.int32(),
            "Line of the page the field is on, from 1, counted from `lineBreak`; null without it.",
        ),
        *_geometry("field"),
        _c("subfield_count", pa.int32(), "Entries of `subFields[]`."),
        _c(
            "table_index",
            pa.int32(),
            "Table whose area holds the field's centre (its text is also in ocr_table_cells); "
            "null when outside every table.",
        ),
        _PARSER,
    ),
)

OCR_SUBFIELDS = Table(
    name="ocr_subfields",
    grain="one row per `subFields[]` entry of a field (or of the title: field_index -1)",
    key=("request_id", "image_index", "field_index", "subfield_index"),
    parent="ocr_fields",
    description="Parts of a template field: MULTI_BOX boxes, lines of a multi-line field.",
    columns=(
        _REQUEST_ID,
        _IMAGE_INDEX,
        _FIELD_INDEX,
        _k("subfield_index", "Position in the field's `subFields[]`, from 0."),
        _c("infer_text", pa.string(), "`inferText`."),
        _c("infer_confidence", pa.float64(), "`inferConfidence`, 0..1."),
        _c("line_break", pa.bool_(), "`lineBreak`."),
        *_geometry("subfield"),
        _PARSER,
    ),
)

OCR_TABLES = Table(
    name="ocr_tables",
    grain="one row per detected table (`tables[]`)",
    key=("request_id", "image_index", "table_index"),
    parent="ocr_images",
    description="Tables found by `enableTableDetection`.",
    columns=(
        _REQUEST_ID,
        _IMAGE_INDEX,
        _TABLE_INDEX,
        _c("infer_confidence", pa.float64(), "`inferConfidence` of the table."),
        *_geometry("table"),
        _c("row_count", pa.int32(), "Rows: max(rowIndex + rowSpan) over the cells."),
        _c("column_count", pa.int32(), "Columns: max(columnIndex + columnSpan) over the cells."),
        _c("cell_count", pa.int32(), "Entries of `cells[]`."),
        _PARSER,
    ),
)

OCR_TABLE_CELLS = Table(
    name="ocr_table_cells",
    grain="one row per cell of a table",
    key=("request_id", "image_index", "table_index", "cell_index"),
    parent="ocr_tables",
    description="Table cells with their grid position, span and text.",
    columns=(
        _REQUEST_ID,
        _IMAGE_INDEX,
        _TABLE_INDEX,
        _CELL_INDEX,
        _c("row_index", pa.int32(), "`rowIndex`, from 0."),
        _c("column_index", pa.int32(), "`columnIndex`, from 0."),
        _c("row_span", pa.int32(), "`rowSpan`."),
        _c("column_span", pa.int32(), "`columnSpan`."),
        _c("infer_confidence", pa.float64(), "`inferConfidence` of the cell."),
        _c(
            "cell_text",
            pa.string(),
            "Text of the cell: words joined by ' ', lines by '\\n'; '' for an empty cell.",
        ),
        _c("line_count", pa.int32(), "Entries of `cellTextLines[]`."),
        *_geometry("cell"),
        _PARSER,
    ),
)

OCR_CELL_WORDS = Table(
    name="ocr_cell_words",
    grain="one row per word of a cell's text line",
    key=("request_id", "image_index", "table_index", "cell_index", "line_index", "word_index"),
    parent="ocr_table_cells",
    description="Words of table cells, with the confidence of their line.",
    columns=(
        _REQUEST_ID,
        _IMAGE_INDEX,
        _TABLE_INDEX,
        _CELL_INDEX,
        _k("line_index", "Position in the cell's `cellTextLines[]`, from 0."),
        _k("word_index", "Position in the line's `cellWords[]`, from 0."),
        _c("infer_text", pa.string(), "`inferText` of the word."),
        _c("infer_confidence", pa.float64(), "`inferConfidence` of the word."),
        _c("line_infer_confidence", pa.float64(), "`inferConfidence` of the word's line."),
        *_geometry("word"),
        _PARSER,
    ),
)

ETL_OBJECTS = Table(
    name="etl_objects",
    grain="one row per discovered source object version (uri + content hash)",
    key=("source_uri", "source_sha256"),
    description="Every object discovery found, and where it ended: loaded, failed or rejected.",
    columns=(
        _c("source_uri", pa.string(), "Object URI (no credentials).", nullable=False),
        _c(
            "source_sha256",
            pa.string(),
            "sha256 of the object's bytes; '' when they could not be read.",
            nullable=False,
        ),
        _c("source_size_bytes", pa.int64(), "Size in bytes."),
        _c("source_last_modified", _TS, "Last-modified time in the bucket."),
        _c("source_format", pa.string(), "Format sniffed from the bytes; null if unsupported."),
        _c("route", pa.string(), "Routing rule that matched the object's key."),
        _c(
            "status",
            pa.string(),
            "pending (planned, not finished), loaded, failed, rejected or skipped (hidden or "
            "ignored by configuration); all but pending are terminal.",
            nullable=False,
        ),
        _c("error_code", pa.string(), "Reason code when failed/rejected/skipped."),
        _c("error_message", pa.string(), "Reason text when failed/rejected/skipped."),
        _c("request_ids", pa.string(), "request_id(s) planned for it, comma-separated."),
        _c("discovered_at", _TS, "When a run first saw this object version."),
        _c("updated_at", _TS, "When the status last changed."),
        _c("run_id", pa.string(), "Run that last changed the status."),
    ),
)

ETL_LOADS = Table(
    name="etl_loads",
    grain="one row per load attempt of a Parquet batch into the warehouse",
    key=("load_id",),
    description="What each load brought in, when, from where, by which run, and how it ended.",
    columns=(
        _c("load_id", pa.string(), "Id of the load (a random UUID).", nullable=False),
        _c("run_id", pa.string(), "Pipeline run that asked for the load; null from the CLI."),
        _c("parquet_dir", pa.string(), "Folder of Parquet tables that was loaded."),
        _c(
            "status",
            pa.string(),
            "succeeded (committed) or failed (rolled back: the previous rows are intact).",
            nullable=False,
        ),
        _c("request_count", pa.int64(), "Distinct request_ids whose rows the load replaced."),
        _c("object_count", pa.int64(), "etl_objects rows in the batch."),
        _c("table_rows", pa.string(), "Rows loaded per table, as a JSON object."),
        _c("total_rows", pa.int64(), "Rows loaded over all tables."),
        _c("error_message", pa.string(), "Why a failed load failed."),
        _c("started_at", _TS, "When the load began."),
        _c("finished_at", _TS, "When it committed or rolled back."),
        _c("duration_ms", pa.int64(), "Wall time of the load, checks included."),
        _c("clova_etl_version", pa.string(), "Version of clova-etl that ran the load."),
    ),
)

ETL_CHECK_RESULTS = Table(
    name="etl_check_results",
    grain="one row per validation check per check run (a load, or `clova-etl check`)",
    key=("check_run_id", "check_name"),
    description="Outcome of every validation check: status, offending row count, sample keys.",
    columns=(
        _c(
            "check_run_id",
            pa.string(),
            "Id of the check run: the load_id when run by a load.",
            nullable=False,
        ),
        _c("check_name", pa.string(), "Name of the check (see sql/checks/).", nullable=False),
        _c("load_id", pa.string(), "Load the checks ran in; null for a standalone check run."),
        _c("severity", pa.string(), "blocking (fails the load) or warning.", nullable=False),
        _c("status", pa.string(), "pass, fail (blocking), warn or skipped.", nullable=False),
        _c("failing_rows", pa.int64(), "Offending rows found."),
        _c("sample_keys", pa.string(), "Up to a few offending keys, as a JSON array of text."),
        _c("scope", pa.string(), "batch (the loaded request_ids) or warehouse (all rows)."),
        _c("description", pa.string(), "What the check asserts."),
        _c("checked_at", _TS, "When the check ran."),
        _c("duration_ms", pa.int64(), "Time the check's query took."),
    ),
)

AUDIT_TABLES: dict[str, Table] = {t.name: t for t in (ETL_LOADS, ETL_CHECK_RESULTS)}
"""The warehouse's own audit tables, written by every load and check run."""

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        OCR_REQUESTS,
        OCR_IMAGES,
        OCR_FIELDS,
        OCR_SUBFIELDS,
        OCR_TABLES,
        OCR_TABLE_CELLS,
        OCR_CELL_WORDS,
    )
}
"""The seven OCR result tables, parents before children."""


__all__ = [
    "AUDIT_TABLES",
    "ETL_CHECK_RESULTS",
    "ETL_LOADS",
    "ETL_OBJECTS",
    "OCR_CELL_WORDS",
    "OCR_FIELDS",
    "OCR_IMAGES",
    "OCR_REQUESTS",
    "OCR_SUBFIELDS",
    "OCR_TABLES",
    "OCR_TABLE_CELLS",
    "PARSER_VERSION",
    "TABLES",
    "Column",
    "Table",
]
