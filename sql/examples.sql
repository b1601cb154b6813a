-- Example analyst queries over the clova-etl warehouse (schema ocr).
-- Written by hand. Every query runs unchanged on DuckDB and PostgreSQL (a test runs them all).
-- Replace the example values ('s3://bucket/inbox/...', dates) with your own.

-- 1. The text of every page of one document, in page order, with line breaks.
SELECT p.source_page, p.line_count, p.page_text
FROM ocr.page_text AS p
JOIN ocr.current_results AS c ON c.request_id = p.request_id
WHERE p.source_uri = 's3://bucket/inbox/invoice-0001.pdf'
ORDER BY p.source_page;

-- 2. Documents whose current text mentions a word (full-text search, the simple way).
SELECT DISTINCT p.source_uri
FROM ocr.page_text AS p
JOIN ocr.current_results AS c ON c.request_id = p.request_id
WHERE lower(p.page_text) LIKE '%total%'
ORDER BY p.source_uri;

-- 3. Template OCR: one row per document and field, current results only.
SELECT f.source_uri, f.matched_template_name, f.field_name, f.value, f.infer_confidence
FROM ocr.template_fields AS f
JOIN ocr.current_results AS c ON c.request_id = f.request_id
ORDER BY f.source_uri, f.image_index, f.field_index;

-- 4. Template OCR pivoted: one row per document, chosen fields as columns.
SELECT f.source_uri,
       max(CASE WHEN f.field_name = 'invoice_no' THEN f.value END) AS invoice_no,
       max(CASE WHEN f.field_name = 'total' THEN f.value END) AS total,
       min(f.infer_confidence) AS lowest_confidence
FROM ocr.template_fields AS f
JOIN ocr.current_results AS c ON c.request_id = f.request_id
GROUP BY f.source_uri
ORDER BY f.source_uri;

-- 5. The lines of a multi-line template field (its subFields), in order.
SELECT s.source_uri, s.field_name, s.subfield_index, s.value
FROM ocr.template_subfields AS s
JOIN ocr.current_results AS c ON c.request_id = s.request_id
ORDER BY s.source_uri, s.image_index, s.field_index, s.subfield_index;

-- 6. A detected table as a grid: rows in order, cells left to right, spans kept.
SELECT g.source_uri, g.source_page, g.table_index, g.row_index, g.column_index,
       g.row_span, g.column_span, g.cell_text
FROM ocr.table_grid AS g
JOIN ocr.current_results AS c ON c.request_id = g.request_id
ORDER BY g.source_uri, g.source_page, g.table_index, g.row_index, g.column_index;

-- 7. The first row of every table read as its header, one row per header cell.
SELECT g.source_uri, g.table_index, g.column_index, g.cell_text AS header
FROM ocr.table_grid AS g
JOIN ocr.current_results AS c ON c.request_id = g.request_id
WHERE g.row_index = 0
ORDER BY g.source_uri, g.table_index, g.column_index;

-- 8. Words found in the top quarter of each page (the axis-aligned box, no unnesting).
SELECT r.source_uri, i.source_page, f.field_index, f.infer_text
FROM ocr.ocr_fields AS f
JOIN ocr.ocr_images AS i ON i.request_id = f.request_id AND i.image_index = f.image_index
JOIN ocr.current_results AS r ON r.request_id = f.request_id
WHERE f.y_max <= 0.25 * i.converted_height
ORDER BY r.source_uri, i.source_page, f.field_index;

-- 9. Fields worth a human look: confidence below 0.5.
SELECT r.source_uri, f.image_index, f.field_index, f.infer_text, f.infer_confidence
FROM ocr.ocr_fields AS f
JOIN ocr.current_results AS r ON r.request_id = f.request_id
WHERE f.infer_confidence < 0.5
ORDER BY f.infer_confidence, r.source_uri;

-- 10. What failed, by reason, leaving out failures a later retry fixed.
SELECT status, error_code, count(*) AS requests, min(error_message) AS example_message
FROM ocr.failed_requests
WHERE NOT has_success
GROUP BY status, error_code
ORDER BY requests DESC;

-- 11. Objects that never became a result: rejected inputs and failed calls, newest first.
SELECT source_uri, status, error_code, error_message, updated_at
FROM ocr.failed_objects
ORDER BY updated_at DESC NULLS LAST;

-- 12. Billable pages per day (what the OCR bill should show).
SELECT CAST(completed_at AS DATE) AS day, count(*) AS requests, sum(billable_pages) AS pages
FROM ocr.ocr_requests
WHERE billable
GROUP BY CAST(completed_at AS DATE)
ORDER BY day;

-- 13. The latest loads and any check that did not pass in them.
SELECT l.finished_at, l.load_id, l.run_id, l.status, l.total_rows,
       c.check_name, c.status AS check_status, c.failing_rows, c.sample_keys
FROM ocr.etl_loads AS l
LEFT JOIN ocr.etl_check_results AS c ON c.load_id = l.load_id AND c.status <> 'pass'
ORDER BY l.finished_at DESC, c.check_name
LIMIT 50;
