"""Sample documents with their ground truth embedded (``clova-etl samples OUT_DIR``)."""

from __future__ import annotations

from clova_etl.samples.fonts import FontNotFoundError, find_font
from clova_etl.samples.generate import (
    PDF_DPI,
    SAMPLE_FILES,
    SAMPLE_SPECS,
    TEMPLATES_FILE,
    build_sample,
    generate_samples,
)
from clova_etl.samples.model import SampleSpec
from clova_etl.samples.templates import CLAIM_FORM, TEMPLATES, TemplateDefinition, write_templates
from clova_etl.samples.truth import DocumentTruth, embed_truth, extract_truth

__all__ = [
    "CLAIM_FORM",
    "PDF_DPI",
    "SAMPLE_FILES",
    "SAMPLE_SPECS",
    "TEMPLATES",
    "TEMPLATES_FILE",
    "DocumentTruth",
    "FontNotFoundError",
    "SampleSpec",
    "TemplateDefinition",
    "build_sample",
    "embed_truth",
    "extract_truth",
    "find_font",
    "generate_samples",
    "write_templates",
]
