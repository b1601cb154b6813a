"""Sample documents with their ground truth embedded (``clova-etl samples OUT_DIR``)."""

from __future__ import annotations

from clova_etl.samples.templates import CLAIM_FORM, TEMPLATES, TemplateDefinition, write_templates
from clova_etl.samples.truth import DocumentTruth, embed_truth, extract_truth

__all__ = [
    "CLAIM_FORM",
    "TEMPLATES",
    "DocumentTruth",
    "TemplateDefinition",
    "embed_truth",
    "extract_truth",
    "write_templates",
]
