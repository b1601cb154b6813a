-- clova-etl analyst views for Trino / NCP Data Query over the Iceberg tables, schema 'ocr'.
-- Run it with the Iceberg catalog as the session catalog (USE <catalog>.ocr).
-- GENERATED from clova_etl/warehouse/views.py by `python -m clova_etl.warehouse.sqlfiles`;
-- do not edit by hand (a test compares this file with the generator).

-- page_text: One row per page: its text in reading order, words joined by spaces and lines by line breaks (from the fields' line_number; one line when the response has no lineBreak).
CREATE OR REPLACE VIEW "ocr"."page_text" AS
WITH lines AS (
    SELECT f.request_id, f.image_index, COALESCE(f.line_number, 1) AS line_number,
           array_join(array_agg(f.infer_text ORDER BY f.field_index), ' ') AS line_text
    FROM "ocr".ocr_fields AS f
    WHERE f.field_index >= 0
    GROUP BY f.request_id, f.image_index, COALESCE(f.line_number, 1)
)
SELECT i.request_id, i.image_index, r.source_uri, i.source_page,
       count(l.line_number) AS line_count,
       COALESCE(array_join(array_agg(l.line_text ORDER BY l.line_number), chr(10)), '') AS page_text
FROM "ocr".ocr_images AS i
JOIN "ocr".ocr_requests AS r ON r.request_id = i.request_id
LEFT JOIN lines AS l ON l.request_id = i.request_id AND l.image_index = i.image_index
GROUP BY i.request_id, i.image_index, r.source_uri, i.source_page;
COMMENT ON VIEW "ocr"."page_text" IS 'One row per page: its text in reading order, words joined by spaces and lines by line breaks (from the fields'' line_number; one line when the response has no lineBreak).';

-- template_fields: Template OCR results as key/value: one row per field of a page, with its template.
CREATE OR REPLACE VIEW "ocr"."template_fields" AS
SELECT r.source_uri, f.request_id, f.image_index, i.source_page,
       i.matched_template_id, i.matched_template_name, f.field_index,
       f.name AS field_name, f.infer_text AS value, f.infer_confidence, f.value_type,
       f.type AS field_type, f.checked, f.subfield_count
FROM "ocr".ocr_fields AS f
JOIN "ocr".ocr_requests AS r ON r.request_id = f.request_id
LEFT JOIN "ocr".ocr_images AS i
       ON i.request_id = f.request_id AND i.image_index = f.image_index
WHERE r.api = 'template';
COMMENT ON VIEW "ocr"."template_fields" IS 'Template OCR results as key/value: one row per field of a page, with its template.';

-- template_subfields: The subFields of template fields (and of the title, field_index -1) in order, with the name of the field they belong to.
CREATE OR REPLACE VIEW "ocr"."template_subfields" AS
SELECT r.source_uri, s.request_id, s.image_index, i.source_page, s.field_index,
       COALESCE(f.name, CASE WHEN s.field_index = -1 THEN i.title_name END) AS field_name,
       s.subfield_index, s.infer_text AS value, s.infer_confidence, s.line_break
FROM "ocr".ocr_subfields AS s
JOIN "ocr".ocr_requests AS r ON r.request_id = s.request_id
LEFT JOIN "ocr".ocr_fields AS f
       ON f.request_id = s.request_id AND f.image_index = s.image_index
      AND f.field_index = s.field_index
LEFT JOIN "ocr".ocr_images AS i
       ON i.request_id = s.request_id AND i.image_index = s.image_index
WHERE r.api = 'template';
COMMENT ON VIEW "ocr"."template_subfields" IS 'The subFields of template fields (and of the title, field_index -1) in order, with the name of the field they belong to.';

-- table_grid: Table cells as a grid: row, column, spans and text of every cell, with the table's size.
CREATE OR REPLACE VIEW "ocr"."table_grid" AS
SELECT r.source_uri, c.request_id, c.image_index, i.source_page, c.table_index,
       t.row_count, t.column_count, c.cell_index, c.row_index, c.column_index,
       c.row_span, c.column_span, c.cell_text, c.infer_confidence
FROM "ocr".ocr_table_cells AS c
JOIN "ocr".ocr_tables AS t
  ON t.request_id = c.request_id AND t.image_index = c.image_index
 AND t.table_index = c.table_index
JOIN "ocr".ocr_requests AS r ON r.request_id = c.request_id
LEFT JOIN "ocr".ocr_images AS i
       ON i.request_id = c.request_id AND i.image_index = c.image_index;
COMMENT ON VIEW "ocr"."table_grid" IS 'Table cells as a grid: row, column, spans and text of every cell, with the table''s size.';

-- current_results: The current result per source object: among the succeeded requests of the object's latest successfully read version (sha256), the latest one per page chunk (page_start).
CREATE OR REPLACE VIEW "ocr"."current_results" AS
WITH succeeded AS (
    SELECT r.request_id, r.source_uri, r.source_sha256, COALESCE(r.page_start, 1) AS chunk,
           row_number() OVER (
               PARTITION BY r.source_uri
               ORDER BY r.completed_at DESC NULLS LAST, r.requested_at DESC NULLS LAST,
                        r.request_id DESC
           ) AS newest_for_object
    FROM "ocr".ocr_requests AS r
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
JOIN "ocr".ocr_requests AS r ON r.request_id = k.request_id
WHERE k.newest_for_chunk = 1;
COMMENT ON VIEW "ocr"."current_results" IS 'The current result per source object: among the succeeded requests of the object''s latest successfully read version (sha256), the latest one per page chunk (page_start).';

-- failed_requests: Requests that failed or were rejected, with their reason; has_success tells whether the same object version and page chunk also has a succeeded request (a retry fixed it).
CREATE OR REPLACE VIEW "ocr"."failed_requests" AS
SELECT r.request_id, r.source_uri, r.source_sha256, r.page_start, r.page_end, r.api,
       r.status, r.error_code, r.error_message, r.http_status, r.attempts,
       r.requested_at, r.completed_at, r.run_id, r.raw_uri,
       EXISTS (
           SELECT 1 FROM "ocr".ocr_requests AS s
           WHERE s.status = 'succeeded' AND s.source_uri = r.source_uri
             AND s.source_sha256 IS NOT DISTINCT FROM r.source_sha256
             AND COALESCE(s.page_start, 1) = COALESCE(r.page_start, 1)
       ) AS has_success
FROM "ocr".ocr_requests AS r
WHERE r.status <> 'succeeded';
COMMENT ON VIEW "ocr"."failed_requests" IS 'Requests that failed or were rejected, with their reason; has_success tells whether the same object version and page chunk also has a succeeded request (a retry fixed it).';

-- failed_objects: Discovered objects that ended failed or rejected (some never became a request), with their reason.
CREATE OR REPLACE VIEW "ocr"."failed_objects" AS
SELECT o.source_uri, o.source_sha256, o.source_size_bytes, o.source_format, o.route,
       o.status, o.error_code, o.error_message, o.request_ids, o.discovered_at,
       o.updated_at, o.run_id
FROM "ocr".etl_objects AS o
WHERE o.status IN ('failed', 'rejected');
COMMENT ON VIEW "ocr"."failed_objects" IS 'Discovered objects that ended failed or rejected (some never became a request), with their reason.';
