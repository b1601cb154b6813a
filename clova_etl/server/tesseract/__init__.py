"""The ``tesseract`` recognition engine of the local server (``clova-etl serve --engine
tesseract``): words with boxes and line breaks, ruled tables, template OCR with MULTI_BOX and
checkbox regions, on Debian's tesseract-ocr with the kor, jpn, chi_tra and eng models."""

from __future__ import annotations

from clova_etl.server.tesseract.checkbox import CHECKED_DENSITY, CheckboxReading, read_checkbox
from clova_etl.server.tesseract.engine import TesseractEngine
from clova_etl.server.tesseract.forms import MATCH_SCORE, TemplateMatch, match_template
from clova_etl.server.tesseract.runtime import (
    LANG_MODELS,
    OcrWord,
    TesseractUnavailableError,
    recognize_words,
    require_tesseract,
    tesseract_available,
    tesseract_langs,
    tesseract_problem,
)
from clova_etl.server.tesseract.tables import GridCell, TableGrid, detect_tables, table_entry
from clova_etl.server.tesseract.templates import (
    RegionSpec,
    TemplateFileError,
    TemplateSpec,
    load_template_file,
    parse_templates,
    sample_templates,
)

__all__ = [
    "CHECKED_DENSITY",
    "LANG_MODELS",
    "MATCH_SCORE",
    "CheckboxReading",
    "GridCell",
    "OcrWord",
    "RegionSpec",
    "TableGrid",
    "TemplateFileError",
    "TemplateMatch",
    "TemplateSpec",
    "TesseractEngine",
    "TesseractUnavailableError",
    "detect_tables",
    "load_template_file",
    "match_template",
    "parse_templates",
    "read_checkbox",
    "recognize_words",
    "require_tesseract",
    "sample_templates",
    "table_entry",
    "tesseract_available",
    "tesseract_langs",
    "tesseract_problem",
]
