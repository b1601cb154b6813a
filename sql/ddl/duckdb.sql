-- clova-etl warehouse DDL for duckdb, schema 'ocr'.
-- GENERATED from clova_etl/schema.py by `python -m clova_etl.warehouse.sqlfiles`;
-- do not edit by hand (a test compares this file with the generator).
-- DuckDB tables carry no PRIMARY KEY (an index slows bulk loads ~2.3x); the
-- blocking check keys_unique enforces the declared keys at every load.

CREATE SCHEMA IF NOT EXISTS "ocr";

CREATE TABLE IF NOT EXISTS "ocr"."ocr_requests" (
    "request_id" VARCHAR NOT NULL,
    "source_uri" VARCHAR,
    "source_sha256" VARCHAR,
    "source_size_bytes" BIGINT,
    "source_format" VARCHAR,
    "source_last_modified" TIMESTAMPTZ,
    "api" VARCHAR,
    "version" VARCHAR,
    "lang" VARCHAR,
    "template_ids" VARCHAR,
    "enable_table_detection" BOOLEAN,
    "page_start" INTEGER,
    "page_end" INTEGER,
    "pages_sent" INTEGER,
    "pages_returned" INTEGER,
    "status" VARCHAR NOT NULL,
    "error_code" VARCHAR,
    "error_message" VARCHAR,
    "http_status" INTEGER,
    "attempts" INTEGER,
    "billable" BOOLEAN,
    "billable_pages" INTEGER,
    "requested_at" TIMESTAMPTZ,
    "completed_at" TIMESTAMPTZ,
    "duration_ms" BIGINT,
    "response_version" VARCHAR,
    "response_request_id" VARCHAR,
    "response_timestamp" TIMESTAMPTZ,
    "raw_uri" VARCHAR,
    "run_id" VARCHAR,
    "parser_version" VARCHAR NOT NULL,
    "content_hash" VARCHAR
);

COMMENT ON TABLE "ocr"."ocr_requests" IS 'What was asked, of which object, with which options, and how it ended. Grain: one row per OCR request (a source object, or one page chunk of it, with its options). Key: request_id.';

COMMENT ON COLUMN "ocr"."ocr_requests"."request_id" IS 'Deterministic request id (UUIDv5 of content hash + options).';

COMMENT ON COLUMN "ocr"."ocr_requests"."source_uri" IS 'Object the request was made for (no credentials).';

COMMENT ON COLUMN "ocr"."ocr_requests"."source_sha256" IS 'sha256 of the source bytes (hex).';

COMMENT ON COLUMN "ocr"."ocr_requests"."source_size_bytes" IS 'Size of the source object in bytes.';

COMMENT ON COLUMN "ocr"."ocr_requests"."source_format" IS 'Format sniffed from the bytes: jpg, png, pdf, tiff.';

COMMENT ON COLUMN "ocr"."ocr_requests"."source_last_modified" IS 'Object''s last-modified time in the bucket.';

COMMENT ON COLUMN "ocr"."ocr_requests"."api" IS '`general` (/general) or `template` (/infer).';

COMMENT ON COLUMN "ocr"."ocr_requests"."version" IS 'API version requested: V1 or V2.';

COMMENT ON COLUMN "ocr"."ocr_requests"."lang" IS '`lang` sent (e.g. `ko` or `ko,ja`); null for the domain default.';

COMMENT ON COLUMN "ocr"."ocr_requests"."template_ids" IS '`templateIds` sent, comma-separated; null if none.';

COMMENT ON COLUMN "ocr"."ocr_requests"."enable_table_detection" IS 'Whether `enableTableDetection` was sent.';

COMMENT ON COLUMN "ocr"."ocr_requests"."page_start" IS 'First page (1-based) of the source in this request.';

COMMENT ON COLUMN "ocr"."ocr_requests"."page_end" IS 'Last page (1-based) of the source in this request.';

COMMENT ON COLUMN "ocr"."ocr_requests"."pages_sent" IS 'Pages the request covered (1 for an image).';

COMMENT ON COLUMN "ocr"."ocr_requests"."pages_returned" IS 'Entries of `images[]` in the response.';

COMMENT ON COLUMN "ocr"."ocr_requests"."status" IS 'succeeded (answer parsed), failed (API or response error) or rejected (not sent: bad input).';

COMMENT ON COLUMN "ocr"."ocr_requests"."error_code" IS 'CLOVA body code (e.g. 0011) or clova-etl reason code.';

COMMENT ON COLUMN "ocr"."ocr_requests"."error_message" IS 'Human-readable reason for a failed/rejected request.';

COMMENT ON COLUMN "ocr"."ocr_requests"."http_status" IS 'HTTP status of the final attempt.';

COMMENT ON COLUMN "ocr"."ocr_requests"."attempts" IS 'HTTP attempts made for this request (retries included).';

COMMENT ON COLUMN "ocr"."ocr_requests"."billable" IS 'Whether the call is charged (answered with results).';

COMMENT ON COLUMN "ocr"."ocr_requests"."billable_pages" IS 'Pages charged (images whose result is not ERROR).';

COMMENT ON COLUMN "ocr"."ocr_requests"."requested_at" IS 'When the first attempt was sent.';

COMMENT ON COLUMN "ocr"."ocr_requests"."completed_at" IS 'When the final answer arrived.';

COMMENT ON COLUMN "ocr"."ocr_requests"."duration_ms" IS 'Wall time of the call, retries included.';

COMMENT ON COLUMN "ocr"."ocr_requests"."response_version" IS '`version` echoed by the response.';

COMMENT ON COLUMN "ocr"."ocr_requests"."response_request_id" IS '`requestId` echoed (not unique: callers reuse).';

COMMENT ON COLUMN "ocr"."ocr_requests"."response_timestamp" IS '`timestamp` of the response.';

COMMENT ON COLUMN "ocr"."ocr_requests"."raw_uri" IS 'Where the raw response (bronze) is stored.';

COMMENT ON COLUMN "ocr"."ocr_requests"."run_id" IS 'Pipeline run that made the call.';

COMMENT ON COLUMN "ocr"."ocr_requests"."parser_version" IS 'Version of the flattener that made the row.';

COMMENT ON COLUMN "ocr"."ocr_requests"."content_hash" IS 'sha256 (hex) of the stored answer''s bytes (raw-store envelope or response file) and the parser version: a load skips a request whose rows in the warehouse carry the same hash (null in rows loaded before it existed: they reload once).';

CREATE TABLE IF NOT EXISTS "ocr"."ocr_images" (
    "request_id" VARCHAR NOT NULL,
    "image_index" INTEGER NOT NULL,
    "source_page" INTEGER,
    "uid" VARCHAR,
    "name" VARCHAR,
    "infer_result" VARCHAR,
    "message" VARCHAR,
    "matched_template_id" BIGINT,
    "matched_template_name" VARCHAR,
    "validation_result" VARCHAR,
    "validation_message" VARCHAR,
    "converted_width" INTEGER,
    "converted_height" INTEGER,
    "page_index" INTEGER,
    "title_name" VARCHAR,
    "title_infer_text" VARCHAR,
    "title_infer_confidence" DOUBLE,
    "title_polygon" DOUBLE[],
    "title_x_min" DOUBLE,
    "title_y_min" DOUBLE,
    "title_x_max" DOUBLE,
    "title_y_max" DOUBLE,
    "combine_result" VARCHAR,
    "field_count" INTEGER,
    "table_count" INTEGER,
    "parser_version" VARCHAR NOT NULL
);

COMMENT ON TABLE "ocr"."ocr_images" IS 'Per-page result: inference status, template match, validation, title. Grain: one row per entry of `images[]` (a page of a PDF/TIFF). Key: request_id, image_index.';

COMMENT ON COLUMN "ocr"."ocr_images"."request_id" IS 'Deterministic request id (UUIDv5 of content hash + options).';

COMMENT ON COLUMN "ocr"."ocr_images"."image_index" IS 'Position in the response''s `images[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_images"."source_page" IS 'Page number (1-based) in the source document.';

COMMENT ON COLUMN "ocr"."ocr_images"."uid" IS '`uid` the service gave the image (changes on every call).';

COMMENT ON COLUMN "ocr"."ocr_images"."name" IS '`name` echoed from the request.';

COMMENT ON COLUMN "ocr"."ocr_images"."infer_result" IS '`inferResult`: SUCCESS, FAILURE or ERROR.';

COMMENT ON COLUMN "ocr"."ocr_images"."message" IS '`message` of the inference.';

COMMENT ON COLUMN "ocr"."ocr_images"."matched_template_id" IS '`matchedTemplate.id` (Template OCR).';

COMMENT ON COLUMN "ocr"."ocr_images"."matched_template_name" IS '`matchedTemplate.name` (Template OCR).';

COMMENT ON COLUMN "ocr"."ocr_images"."validation_result" IS '`validationResult.result`.';

COMMENT ON COLUMN "ocr"."ocr_images"."validation_message" IS '`validationResult.message`.';

COMMENT ON COLUMN "ocr"."ocr_images"."converted_width" IS '`convertedImageInfo.width` (PDF/TIFF pages).';

COMMENT ON COLUMN "ocr"."ocr_images"."converted_height" IS '`convertedImageInfo.height`.';

COMMENT ON COLUMN "ocr"."ocr_images"."page_index" IS '`convertedImageInfo.pageIndex` (0-based, per request).';

COMMENT ON COLUMN "ocr"."ocr_images"."title_name" IS '`title.name` (Template OCR).';

COMMENT ON COLUMN "ocr"."ocr_images"."title_infer_text" IS '`title.inferText`.';

COMMENT ON COLUMN "ocr"."ocr_images"."title_infer_confidence" IS '`title.inferConfidence`.';

COMMENT ON COLUMN "ocr"."ocr_images"."title_polygon" IS 'The title''s polygon as [x0, y0, x1, y1, x2, y2, x3, y3] in the API''s vertex order (pixels of the page image; V1 `bounding` becomes the 4 corners clockwise from top-left). Null when the response has no geometry.';

COMMENT ON COLUMN "ocr"."ocr_images"."title_x_min" IS 'Left edge of the title''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_images"."title_y_min" IS 'Top edge of the title''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_images"."title_x_max" IS 'Right edge of the title''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_images"."title_y_max" IS 'Bottom edge of the title''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_images"."combine_result" IS '`combineResult` as JSON text, when present.';

COMMENT ON COLUMN "ocr"."ocr_images"."field_count" IS 'Entries of `fields[]`.';

COMMENT ON COLUMN "ocr"."ocr_images"."table_count" IS 'Entries of `tables[]`.';

COMMENT ON COLUMN "ocr"."ocr_images"."parser_version" IS 'Version of the flattener that made the row.';

CREATE TABLE IF NOT EXISTS "ocr"."ocr_fields" (
    "request_id" VARCHAR NOT NULL,
    "image_index" INTEGER NOT NULL,
    "field_index" INTEGER NOT NULL,
    "name" VARCHAR,
    "value_type" VARCHAR,
    "infer_text" VARCHAR,
    "infer_confidence" DOUBLE,
    "type" VARCHAR,
    "checked" BOOLEAN,
    "line_break" BOOLEAN,
    "line_number" INTEGER,
    "polygon" DOUBLE[],
    "x_min" DOUBLE,
    "y_min" DOUBLE,
    "x_max" DOUBLE,
    "y_max" DOUBLE,
    "subfield_count" INTEGER,
    "table_index" INTEGER,
    "parser_version" VARCHAR NOT NULL
);

COMMENT ON TABLE "ocr"."ocr_fields" IS 'Recognised text units: words (General OCR) or named fields (Template OCR). Grain: one row per entry of `fields[]`. Key: request_id, image_index, field_index.';

COMMENT ON COLUMN "ocr"."ocr_fields"."request_id" IS 'Deterministic request id (UUIDv5 of content hash + options).';

COMMENT ON COLUMN "ocr"."ocr_fields"."image_index" IS 'Position in the response''s `images[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_fields"."field_index" IS 'Position in the image''s `fields[]`, from 0; -1 stands for the image''s `title`.';

COMMENT ON COLUMN "ocr"."ocr_fields"."name" IS '`name` (the template field''s name; absent in General OCR).';

COMMENT ON COLUMN "ocr"."ocr_fields"."value_type" IS '`valueType`: ALL, NUMERIC…';

COMMENT ON COLUMN "ocr"."ocr_fields"."infer_text" IS '`inferText`.';

COMMENT ON COLUMN "ocr"."ocr_fields"."infer_confidence" IS '`inferConfidence`, 0..1.';

COMMENT ON COLUMN "ocr"."ocr_fields"."type" IS '`type`: NORMAL, MULTI_BOX or CHECKBOX (V2).';

COMMENT ON COLUMN "ocr"."ocr_fields"."checked" IS '`checked` (CHECKBOX fields only).';

COMMENT ON COLUMN "ocr"."ocr_fields"."line_break" IS '`lineBreak`: a line ends after this field (General V2).';

COMMENT ON COLUMN "ocr"."ocr_fields"."line_number" IS 'Line of the page the field is on, from 1, counted from `lineBreak`; null without it.';

COMMENT ON COLUMN "ocr"."ocr_fields"."polygon" IS 'The field''s polygon as [x0, y0, x1, y1, x2, y2, x3, y3] in the API''s vertex order (pixels of the page image; V1 `bounding` becomes the 4 corners clockwise from top-left). Null when the response has no geometry.';

COMMENT ON COLUMN "ocr"."ocr_fields"."x_min" IS 'Left edge of the field''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_fields"."y_min" IS 'Top edge of the field''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_fields"."x_max" IS 'Right edge of the field''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_fields"."y_max" IS 'Bottom edge of the field''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_fields"."subfield_count" IS 'Entries of `subFields[]`.';

COMMENT ON COLUMN "ocr"."ocr_fields"."table_index" IS 'Table whose area holds the field''s centre (its text is also in ocr_table_cells); null when outside every table.';

COMMENT ON COLUMN "ocr"."ocr_fields"."parser_version" IS 'Version of the flattener that made the row.';

CREATE TABLE IF NOT EXISTS "ocr"."ocr_subfields" (
    "request_id" VARCHAR NOT NULL,
    "image_index" INTEGER NOT NULL,
    "field_index" INTEGER NOT NULL,
    "subfield_index" INTEGER NOT NULL,
    "infer_text" VARCHAR,
    "infer_confidence" DOUBLE,
    "line_break" BOOLEAN,
    "polygon" DOUBLE[],
    "x_min" DOUBLE,
    "y_min" DOUBLE,
    "x_max" DOUBLE,
    "y_max" DOUBLE,
    "parser_version" VARCHAR NOT NULL
);

COMMENT ON TABLE "ocr"."ocr_subfields" IS 'Parts of a template field: MULTI_BOX boxes, lines of a multi-line field. Grain: one row per `subFields[]` entry of a field (or of the title: field_index -1). Key: request_id, image_index, field_index, subfield_index.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."request_id" IS 'Deterministic request id (UUIDv5 of content hash + options).';

COMMENT ON COLUMN "ocr"."ocr_subfields"."image_index" IS 'Position in the response''s `images[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."field_index" IS 'Position in the image''s `fields[]`, from 0; -1 stands for the image''s `title`.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."subfield_index" IS 'Position in the field''s `subFields[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."infer_text" IS '`inferText`.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."infer_confidence" IS '`inferConfidence`, 0..1.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."line_break" IS '`lineBreak`.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."polygon" IS 'The subfield''s polygon as [x0, y0, x1, y1, x2, y2, x3, y3] in the API''s vertex order (pixels of the page image; V1 `bounding` becomes the 4 corners clockwise from top-left). Null when the response has no geometry.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."x_min" IS 'Left edge of the subfield''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."y_min" IS 'Top edge of the subfield''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."x_max" IS 'Right edge of the subfield''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."y_max" IS 'Bottom edge of the subfield''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_subfields"."parser_version" IS 'Version of the flattener that made the row.';

CREATE TABLE IF NOT EXISTS "ocr"."ocr_tables" (
    "request_id" VARCHAR NOT NULL,
    "image_index" INTEGER NOT NULL,
    "table_index" INTEGER NOT NULL,
    "infer_confidence" DOUBLE,
    "polygon" DOUBLE[],
    "x_min" DOUBLE,
    "y_min" DOUBLE,
    "x_max" DOUBLE,
    "y_max" DOUBLE,
    "row_count" INTEGER,
    "column_count" INTEGER,
    "cell_count" INTEGER,
    "parser_version" VARCHAR NOT NULL
);

COMMENT ON TABLE "ocr"."ocr_tables" IS 'Tables found by `enableTableDetection`. Grain: one row per detected table (`tables[]`). Key: request_id, image_index, table_index.';

COMMENT ON COLUMN "ocr"."ocr_tables"."request_id" IS 'Deterministic request id (UUIDv5 of content hash + options).';

COMMENT ON COLUMN "ocr"."ocr_tables"."image_index" IS 'Position in the response''s `images[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_tables"."table_index" IS 'Position in the image''s `tables[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_tables"."infer_confidence" IS '`inferConfidence` of the table.';

COMMENT ON COLUMN "ocr"."ocr_tables"."polygon" IS 'The table''s polygon as [x0, y0, x1, y1, x2, y2, x3, y3] in the API''s vertex order (pixels of the page image; V1 `bounding` becomes the 4 corners clockwise from top-left). Null when the response has no geometry.';

COMMENT ON COLUMN "ocr"."ocr_tables"."x_min" IS 'Left edge of the table''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_tables"."y_min" IS 'Top edge of the table''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_tables"."x_max" IS 'Right edge of the table''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_tables"."y_max" IS 'Bottom edge of the table''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_tables"."row_count" IS 'Rows: max(rowIndex + rowSpan) over the cells.';

COMMENT ON COLUMN "ocr"."ocr_tables"."column_count" IS 'Columns: max(columnIndex + columnSpan) over the cells.';

COMMENT ON COLUMN "ocr"."ocr_tables"."cell_count" IS 'Entries of `cells[]`.';

COMMENT ON COLUMN "ocr"."ocr_tables"."parser_version" IS 'Version of the flattener that made the row.';

CREATE TABLE IF NOT EXISTS "ocr"."ocr_table_cells" (
    "request_id" VARCHAR NOT NULL,
    "image_index" INTEGER NOT NULL,
    "table_index" INTEGER NOT NULL,
    "cell_index" INTEGER NOT NULL,
    "row_index" INTEGER,
    "column_index" INTEGER,
    "row_span" INTEGER,
    "column_span" INTEGER,
    "infer_confidence" DOUBLE,
    "cell_text" VARCHAR,
    "line_count" INTEGER,
    "polygon" DOUBLE[],
    "x_min" DOUBLE,
    "y_min" DOUBLE,
    "x_max" DOUBLE,
    "y_max" DOUBLE,
    "parser_version" VARCHAR NOT NULL
);

COMMENT ON TABLE "ocr"."ocr_table_cells" IS 'Table cells with their grid position, span and text. Grain: one row per cell of a table. Key: request_id, image_index, table_index, cell_index.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."request_id" IS 'Deterministic request id (UUIDv5 of content hash + options).';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."image_index" IS 'Position in the response''s `images[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."table_index" IS 'Position in the image''s `tables[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."cell_index" IS 'Position in the table''s `cells[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."row_index" IS '`rowIndex`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."column_index" IS '`columnIndex`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."row_span" IS '`rowSpan`.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."column_span" IS '`columnSpan`.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."infer_confidence" IS '`inferConfidence` of the cell.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."cell_text" IS 'Text of the cell: words joined by '' '', lines by ''\n''; '''' for an empty cell.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."line_count" IS 'Entries of `cellTextLines[]`.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."polygon" IS 'The cell''s polygon as [x0, y0, x1, y1, x2, y2, x3, y3] in the API''s vertex order (pixels of the page image; V1 `bounding` becomes the 4 corners clockwise from top-left). Null when the response has no geometry.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."x_min" IS 'Left edge of the cell''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."y_min" IS 'Top edge of the cell''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."x_max" IS 'Right edge of the cell''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."y_max" IS 'Bottom edge of the cell''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_table_cells"."parser_version" IS 'Version of the flattener that made the row.';

CREATE TABLE IF NOT EXISTS "ocr"."ocr_cell_words" (
    "request_id" VARCHAR NOT NULL,
    "image_index" INTEGER NOT NULL,
    "table_index" INTEGER NOT NULL,
    "cell_index" INTEGER NOT NULL,
    "line_index" INTEGER NOT NULL,
    "word_index" INTEGER NOT NULL,
    "infer_text" VARCHAR,
    "infer_confidence" DOUBLE,
    "line_infer_confidence" DOUBLE,
    "polygon" DOUBLE[],
    "x_min" DOUBLE,
    "y_min" DOUBLE,
    "x_max" DOUBLE,
    "y_max" DOUBLE,
    "parser_version" VARCHAR NOT NULL
);

COMMENT ON TABLE "ocr"."ocr_cell_words" IS 'Words of table cells, with the confidence of their line. Grain: one row per word of a cell''s text line. Key: request_id, image_index, table_index, cell_index, line_index, word_index.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."request_id" IS 'Deterministic request id (UUIDv5 of content hash + options).';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."image_index" IS 'Position in the response''s `images[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."table_index" IS 'Position in the image''s `tables[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."cell_index" IS 'Position in the table''s `cells[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."line_index" IS 'Position in the cell''s `cellTextLines[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."word_index" IS 'Position in the line''s `cellWords[]`, from 0.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."infer_text" IS '`inferText` of the word.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."infer_confidence" IS '`inferConfidence` of the word.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."line_infer_confidence" IS '`inferConfidence` of the word''s line.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."polygon" IS 'The word''s polygon as [x0, y0, x1, y1, x2, y2, x3, y3] in the API''s vertex order (pixels of the page image; V1 `bounding` becomes the 4 corners clockwise from top-left). Null when the response has no geometry.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."x_min" IS 'Left edge of the word''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."y_min" IS 'Top edge of the word''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."x_max" IS 'Right edge of the word''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."y_max" IS 'Bottom edge of the word''s axis-aligned box.';

COMMENT ON COLUMN "ocr"."ocr_cell_words"."parser_version" IS 'Version of the flattener that made the row.';

CREATE TABLE IF NOT EXISTS "ocr"."etl_objects" (
    "source_uri" VARCHAR NOT NULL,
    "source_sha256" VARCHAR NOT NULL,
    "source_size_bytes" BIGINT,
    "source_last_modified" TIMESTAMPTZ,
    "source_format" VARCHAR,
    "route" VARCHAR,
    "status" VARCHAR NOT NULL,
    "error_code" VARCHAR,
    "error_message" VARCHAR,
    "request_ids" VARCHAR,
    "discovered_at" TIMESTAMPTZ,
    "updated_at" TIMESTAMPTZ,
    "run_id" VARCHAR
);

COMMENT ON TABLE "ocr"."etl_objects" IS 'Every object discovery found, and where it ended: loaded, failed or rejected. Grain: one row per discovered source object version (uri + content hash). Key: source_uri, source_sha256.';

COMMENT ON COLUMN "ocr"."etl_objects"."source_uri" IS 'Object URI (no credentials).';

COMMENT ON COLUMN "ocr"."etl_objects"."source_sha256" IS 'sha256 of the object''s bytes; '''' when they could not be read.';

COMMENT ON COLUMN "ocr"."etl_objects"."source_size_bytes" IS 'Size in bytes.';

COMMENT ON COLUMN "ocr"."etl_objects"."source_last_modified" IS 'Last-modified time in the bucket.';

COMMENT ON COLUMN "ocr"."etl_objects"."source_format" IS 'Format sniffed from the bytes; null if unsupported.';

COMMENT ON COLUMN "ocr"."etl_objects"."route" IS 'Routing rule that matched the object''s key.';

COMMENT ON COLUMN "ocr"."etl_objects"."status" IS 'pending (planned, not finished), loaded, failed, rejected or skipped (hidden or ignored by configuration); all but pending are terminal.';

COMMENT ON COLUMN "ocr"."etl_objects"."error_code" IS 'Reason code when failed/rejected/skipped.';

COMMENT ON COLUMN "ocr"."etl_objects"."error_message" IS 'Reason text when failed/rejected/skipped.';

COMMENT ON COLUMN "ocr"."etl_objects"."request_ids" IS 'request_id(s) planned for it, comma-separated.';

COMMENT ON COLUMN "ocr"."etl_objects"."discovered_at" IS 'When a run first saw this object version.';

COMMENT ON COLUMN "ocr"."etl_objects"."updated_at" IS 'When the status last changed.';

COMMENT ON COLUMN "ocr"."etl_objects"."run_id" IS 'Run that last changed the status.';

CREATE TABLE IF NOT EXISTS "ocr"."etl_loads" (
    "load_id" VARCHAR NOT NULL,
    "run_id" VARCHAR,
    "parquet_dir" VARCHAR,
    "status" VARCHAR NOT NULL,
    "request_count" BIGINT,
    "object_count" BIGINT,
    "table_rows" VARCHAR,
    "total_rows" BIGINT,
    "error_message" VARCHAR,
    "started_at" TIMESTAMPTZ,
    "finished_at" TIMESTAMPTZ,
    "duration_ms" BIGINT,
    "clova_etl_version" VARCHAR
);

COMMENT ON TABLE "ocr"."etl_loads" IS 'What each load brought in, when, from where, by which run, and how it ended. Grain: one row per load attempt of a Parquet batch into the warehouse. Key: load_id.';

COMMENT ON COLUMN "ocr"."etl_loads"."load_id" IS 'Id of the load (a random UUID).';

COMMENT ON COLUMN "ocr"."etl_loads"."run_id" IS 'Pipeline run that asked for the load; null from the CLI.';

COMMENT ON COLUMN "ocr"."etl_loads"."parquet_dir" IS 'Folder of Parquet tables that was loaded.';

COMMENT ON COLUMN "ocr"."etl_loads"."status" IS 'succeeded (committed) or failed (rolled back: the previous rows are intact).';

COMMENT ON COLUMN "ocr"."etl_loads"."request_count" IS 'Distinct request_ids whose rows the load replaced.';

COMMENT ON COLUMN "ocr"."etl_loads"."object_count" IS 'etl_objects rows in the batch.';

COMMENT ON COLUMN "ocr"."etl_loads"."table_rows" IS 'Rows loaded per table, as a JSON object.';

COMMENT ON COLUMN "ocr"."etl_loads"."total_rows" IS 'Rows loaded over all tables.';

COMMENT ON COLUMN "ocr"."etl_loads"."error_message" IS 'Why a failed load failed.';

COMMENT ON COLUMN "ocr"."etl_loads"."started_at" IS 'When the load began.';

COMMENT ON COLUMN "ocr"."etl_loads"."finished_at" IS 'When it committed or rolled back.';

COMMENT ON COLUMN "ocr"."etl_loads"."duration_ms" IS 'Wall time of the load, checks included.';

COMMENT ON COLUMN "ocr"."etl_loads"."clova_etl_version" IS 'Version of clova-etl that ran the load.';

CREATE TABLE IF NOT EXISTS "ocr"."etl_check_results" (
    "check_run_id" VARCHAR NOT NULL,
    "check_name" VARCHAR NOT NULL,
    "load_id" VARCHAR,
    "severity" VARCHAR NOT NULL,
    "status" VARCHAR NOT NULL,
    "failing_rows" BIGINT,
    "sample_keys" VARCHAR,
    "scope" VARCHAR,
    "description" VARCHAR,
    "checked_at" TIMESTAMPTZ,
    "duration_ms" BIGINT
);

COMMENT ON TABLE "ocr"."etl_check_results" IS 'Outcome of every validation check: status, offending row count, sample keys. Grain: one row per validation check per check run (a load, or `clova-etl check`). Key: check_run_id, check_name.';

COMMENT ON COLUMN "ocr"."etl_check_results"."check_run_id" IS 'Id of the check run: the load_id when run by a load.';

COMMENT ON COLUMN "ocr"."etl_check_results"."check_name" IS 'Name of the check (see sql/checks/).';

COMMENT ON COLUMN "ocr"."etl_check_results"."load_id" IS 'Load the checks ran in; null for a standalone check run.';

COMMENT ON COLUMN "ocr"."etl_check_results"."severity" IS 'blocking (fails the load) or warning.';

COMMENT ON COLUMN "ocr"."etl_check_results"."status" IS 'pass, fail (blocking), warn or skipped.';

COMMENT ON COLUMN "ocr"."etl_check_results"."failing_rows" IS 'Offending rows found.';

COMMENT ON COLUMN "ocr"."etl_check_results"."sample_keys" IS 'Up to a few offending keys, as a JSON array of text.';

COMMENT ON COLUMN "ocr"."etl_check_results"."scope" IS 'batch (the loaded request_ids) or warehouse (all rows).';

COMMENT ON COLUMN "ocr"."etl_check_results"."description" IS 'What the check asserts.';

COMMENT ON COLUMN "ocr"."etl_check_results"."checked_at" IS 'When the check ran.';

COMMENT ON COLUMN "ocr"."etl_check_results"."duration_ms" IS 'Time the check''s query took.';
