"""Analyst views, written once in SQL that DuckDB and PostgreSQL both run.

``{schema}`` in a view's query stands for the quoted schema name. Every view lists its columns
(never ``*``), so a column added to a table does not change a view's shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from clova_etl.warehouse.uri import DEFAULT_SCHEMA, quote_ident, quote_literal


@dataclass(frozen=True)
class View:
    """One analyst view: name, what it shows, and its query."""

    name: str
    description: str
    query: str

    def select_sql(self, schema: str) -> str:
        """The view's query for ``schema``."""
        return self.query.strip().format(schema=quote_ident(schema))

    def create_sql(self, schema: str) -> str:
        """``CREATE OR REPLACE VIEW`` for ``schema``."""
        return (
            f"CREATE OR REPLACE VIEW {quote_ident(schema)}.{quote_ident(self.name)} AS\n"
            f"{self.select_sql(schema)}"
        )

    def comment_sql(self, schema: str) -> str:
        """``COMMENT ON VIEW`` with the description."""
        return (
            f"COMMENT ON VIEW {quote_ident(schema)}.{quote_ident(self.name)} IS "
            f"{quote_literal(self.description)}"
        )


PAGE_TEXT = View(
    "page_text",
    "One row per page: its text in reading order, words joined by spaces and lines by line "
    "breaks (from the fields' line_number; one line when the response has no lineBreak).",
    """
WITH lines AS (
    SELECT f.request_id, f.image_index, COALESCE(f.line_number, 1) AS line_number,
           string_agg(f.infer_text, ' ' ORDER BY f.field_index) AS line_text
    FROM {schema}.ocr_fields AS f
    WHERE f.field_index >= 0
    GROUP BY f.request_id, f.image_index, COALESCE(f.line_number, 1)
)
SELECT i.request_id, i.image_index, r.source_uri, i.source_page,
       count(l.line_number) AS line_count,
       COALESCE(string_agg(l.line_text, chr(10) ORDER BY l.line_number), '') AS page_text
FROM {schema}.ocr_images AS i
JOIN {schema}.ocr_requests AS r ON r.request_id = i.request_id
LEFT JOIN lines AS l ON l.request_id = i.request_id AND l.image_index = i.image_index
GROUP BY i.request_id, i.image_index, r.source_uri, i.source_page
""",
)

TEMPLATE_FIELDS = View(
    "template_fields",
    "Template OCR results as key/value: one row per field of a page, with its template.",
    """
SELECT r.source_uri, f.request_id, f.image_index, i.source_page,
       i.matched_template_id, i.matched_template_name, f.field_index,
       f.name AS field_name, f.infer_text AS value, f.infer_confidence, f.value_type,
       f.type AS field_type, f.checked, f.subfield_count
FROM {schema}.ocr_fields AS f
JOIN {schema}.ocr_requests AS r ON r.request_id = f.request_id
LEFT JOIN {schema}.ocr_images AS i
       ON i.request_id = f.request_id AND i.image_index = f.image_index
WHERE r.api = 'template'
""",
)

TEMPLATE_SUBFIELDS = View(
    "template_subfields",
    "The subFields of template fields (and of the title, field_index -1) in order, with the "
    "name of the field they belong to.",
    """
SELECT r.source_uri, s.request_id, s.image_index, i.source_page, s.field_index,
       COALESCE(f.name, CASE WHEN s.field_index = -1 THEN i.title_name END) AS field_name,
       s.subfield_index, s.infer_text AS value, s.infer_confidence, s.line_break
FROM {schema}.ocr_subfields AS s
JOIN {schema}.ocr_requests AS r ON r.request_id = s.request_id
LEFT JOIN {schema}.ocr_fields AS f
       ON f.request_id = s.request_id AND f.image_index = s.image_index
      AND f.field_index = s.field_index
LEFT JOIN {schema}.ocr_images AS i
       ON i.request_id = s.request_id AND i.image_index = s.image_index
WHERE r.api = 'template'
""",
)

TABLE_GRID = View(
    "table_grid",
    "Table cells as a grid: row, column, spans and text of every cell, with the table's size.",
    """
SELECT r.source_uri, c.request_id, c.image_index, i.source_page, c.table_index,
       t.row_count, t.column_count, c.cell_index, c.row_index, c.column_index,
       c.row_span, c.column_span, c.cell_text, c.infer_confidence
FROM {schema}.ocr_table_cells AS c
JOIN {schema}.ocr_tables AS t
  ON t.request_id = c.request_id AND t.image_index = c.image_index
 AND t.table_index = c.table_index
JOIN {schema}.ocr_requests AS r ON r.request_id = c.request_id
LEFT JOIN {schema}.ocr_images AS i
       ON i.request_id = c.request_id AND i.image_index = c.image_index
""",
)

CURRENT_RESULTS = View(
    "current_results",
    "The current result per source object: among the succeeded requests of the object's "
    "latest successfully read version (sha256), the latest one per page chunk (page_start).",
    """
WITH succeeded AS (
    SELECT r.request_id, r.source_uri, r.source_sha256, COALESCE(r.page_start, 1) AS chunk,
           row_number() OVER (
               PARTITION BY r.source_uri
               ORDER BY r.completed_at DESC NULLS LAST, r.requested_at DESC NULLS LAST,
                        r.request_id DESC
           ) AS newest_for_object
    FROM {schema}.ocr_requests AS r
    WHERE r.status = 'succeeded'
),
latest_version AS (
    SELECT source_uri, source_sha256 FROM succeeded WHERE newest_for_object = 1
),
ranked AS (
    SELECT s.request_id,
           row_number() OVER (
               PARTITION BY s.source_uri, s.chunk
               ORDER BY s.newest_for_object
           ) AS newest_for_chunk
    FROM succeeded AS s
    JOIN latest_version AS v
      ON v.source_uri = s.source_uri
     AND v.source_sha256 IS NOT DISTINCT FROM s.source_sha256
)
SELECT r.source_uri, r.source_sha256, r.page_start, r.page_end, r.request_id, r.api,
       r.version, r.lang, r.template_ids, r.enable_table_detection, r.pages_returned,
       r.billable_pages, r.completed_at, r.raw_uri, r.run_id, r.parser_version
FROM ranked AS k
JOIN {schema}.ocr_requests AS r ON r.request_id = k.request_id
WHERE k.newest_for_chunk = 1
""",
)

FAILED_REQUESTS = View(
    "failed_requests",
    "Requests that failed or were rejected, with their reason; has_success tells whether the "
    "same object version and page chunk also has a succeeded request (a retry fixed it).",
    """
SELECT r.request_id, r.source_uri, r.source_sha256, r.page_start, r.page_end, r.api,
       r.status, r.error_code, r.error_message, r.http_status, r.attempts,
       r.requested_at, r.completed_at, r.run_id, r.raw_uri,
       EXISTS (
           SELECT 1 FROM {schema}.ocr_requests AS s
           WHERE s.status = 'succeeded' AND s.source_uri = r.source_uri
             AND s.source_sha256 IS NOT DISTINCT FROM r.source_sha256
             AND COALESCE(s.page_start, 1) = COALESCE(r.page_start, 1)
       ) AS has_success
FROM {schema}.ocr_requests AS r
WHERE r.status <> 'succeeded'
""",
)

FAILED_OBJECTS = View(
    "failed_objects",
    "Discovered objects that ended failed or rejected (some never became a request), with "
    "their reason.",
    """
SELECT o.source_uri, o.source_sha256, o.source_size_bytes, o.source_format, o.route,
       o.status, o.error_code, o.error_message, o.request_ids, o.discovered_at,
       o.updated_at, o.run_id
FROM {schema}.etl_objects AS o
WHERE o.status IN ('failed', 'rejected')
""",
)

VIEWS: tuple[View, ...] = (
    PAGE_TEXT,
    TEMPLATE_FIELDS,
    TEMPLATE_SUBFIELDS,
    TABLE_GRID,
    CURRENT_RESULTS,
    FAILED_REQUESTS,
    FAILED_OBJECTS,
)
"""Every analyst view, in creation order."""


def render_views(schema: str = DEFAULT_SCHEMA) -> str:
    """The script of ``sql/views.sql``: every view and its comment."""
    head = (
        f"-- clova-etl analyst views (DuckDB and PostgreSQL), schema {schema!r}.\n"
        "-- GENERATED from clova_etl/warehouse/views.py by "
        "`python -m clova_etl.warehouse.sqlfiles`;\n"
        "-- do not edit by hand (a test compares this file with the generator).\n"
    )
    body = "".join(
        f"-- {v.name}: {v.description}\n{v.create_sql(schema)};\n{v.comment_sql(schema)};\n\n"
        for v in VIEWS
    )
    return head + "\n" + body.rstrip() + "\n"


__all__ = ["VIEWS", "View", "render_views"]
