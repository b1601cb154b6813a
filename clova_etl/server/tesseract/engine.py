"""The ``tesseract`` engine: real recognition of a page with Debian's tesseract-ocr."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from clova_etl.server.engine import PageInput, PageResult, RecognizeOptions
from clova_etl.server.tesseract.forms import form_result, match_template
from clova_etl.server.tesseract.layout import analyse
from clova_etl.server.tesseract.missed import read_missed
from clova_etl.server.tesseract.runtime import (
    limit_threads,
    recognize_words,
    require_tesseract,
    tesseract_langs,
)
from clova_etl.server.tesseract.tables import detect_tables, table_entry
from clova_etl.server.tesseract.templates import TemplateSpec, load_template_file, sample_templates
from clova_etl.server.tesseract.words import drop_ghosts, join_syllables, new_words, page_fields

logger = logging.getLogger(__name__)

NO_TEMPLATE_MESSAGE = "Template matching failed: no deployed template matches this image."
# Page segmentation "one uniform block of text": on forms, receipts and tables it reads rows
# across columns and keeps the most text; the automatic mode (3) and the column mode (4) dropped
# whole columns and lines (bench/RESULTS.md, OCR quality). What it still misses, the second
# pass over uncovered ink reads (``missed``).
PAGE_PSM = 6
MISSED_PSM = 6


class TesseractEngine:
    """Recognises pages with tesseract: words, ruled tables and template regions.

    ``templates`` are the definitions template OCR can match (default: the sample templates,
    the server's default deployment); the server narrows them per request to the deployed ids
    the request allows. Construction fails with :class:`TesseractUnavailableError` when the
    binary, its language data or pytesseract is missing.
    """

    name = "tesseract"

    def __init__(self, templates: Iterable[TemplateSpec] | None = None) -> None:
        require_tesseract()
        limit_threads()
        specs = list(templates) if templates is not None else sample_templates()
        self.templates: dict[int, TemplateSpec] = {t.id: t for t in specs}

    @classmethod
    def from_template_file(cls, path: Path) -> TesseractEngine:
        """An engine matching the templates of a ``templates.json`` file."""
        return cls(load_template_file(path))

    def __repr__(self) -> str:
        return f"TesseractEngine(templates={sorted(self.templates)})"

    def recognize(self, page: PageInput, options: RecognizeOptions) -> PageResult:
        """Read one page (General: words and tables; Template: matched template's regions)."""
        langs = tesseract_langs(options.lang)
        layout = analyse(page.pixels())
        words = drop_ghosts(recognize_words(layout.clean, langs, psm=PAGE_PSM))
        words += new_words(read_missed(layout.clean_gray, words, langs, psm=MISSED_PSM), words)
        words = join_syllables(words)
        if options.api == "template":
            candidates = [self.templates[i] for i in options.templates if i in self.templates]
            unknown = sorted(set(options.templates) - set(self.templates))
            if unknown:
                logger.warning("deployed templates without a definition (not matched): %s", unknown)
            match = match_template(layout, words, candidates)
            if match is None:
                return PageResult(infer_result="FAILURE", message=NO_TEMPLATE_MESSAGE)
            title, fields = form_result(match, layout, words, langs)
            return PageResult(
                title=title,
                fields=fields,
                matched_template={
                    "id": match.template.id,
                    "name": options.templates.get(match.template.id, match.template.name),
                },
            )
        result = PageResult(fields=page_fields(words))
        if options.table_detection:
            result.tables = [table_entry(g, words) for g in detect_tables(layout.rulings)]
        return result
