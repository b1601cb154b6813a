"""The sample set: which documents, in which format, and writing them out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clova_etl.samples.form import claim_form
from clova_etl.samples.invoice import invoice_table
from clova_etl.samples.model import BuiltSample, SampleSpec
from clova_etl.samples.multipage import contract_3p, fax_2p
from clova_etl.samples.notices import notice_ja, notice_zh_tw
from clova_etl.samples.receipts import receipt_en, receipt_ko
from clova_etl.samples.templates import write_templates
from clova_etl.samples.truth import embed_truth

# PDFs are written at this density; the local server renders them at the same one, so a
# page's convertedImageInfo equals its drawn size.
PDF_DPI = 144.0
TEMPLATES_FILE = "templates.json"

SAMPLES: tuple[tuple[SampleSpec, Callable[[], BuiltSample]], ...] = (
    (
        SampleSpec("receipt-ko", "png", "ko", "general", False, "Korean receipt, rotated 1.5°"),
        receipt_ko,
    ),
    (SampleSpec("receipt-en", "jpg", "ko", "general", False, "English receipt"), receipt_en),
    (
        SampleSpec("invoice-table", "png", "ko", "general", True, "invoice with a ruled 5x5 table"),
        invoice_table,
    ),
    (
        SampleSpec("claim-form", "png", "ko", "template", False, "template 1001 claim-form"),
        claim_form,
    ),
    (SampleSpec("contract-3p", "pdf", "ko", "general", False, "3-page contract"), contract_3p),
    (SampleSpec("fax-2p", "tiff", "ko", "general", False, "2-page grey fax"), fax_2p),
    (SampleSpec("notice-ja", "png", "ja", "general", False, "Japanese notice"), notice_ja),
    (
        SampleSpec("notice-zh-tw", "jpg", "zh-TW", "general", False, "zh-TW notice"),
        notice_zh_tw,
    ),
)

SAMPLE_SPECS: dict[str, SampleSpec] = {spec.name: spec for spec, _ in SAMPLES}
SAMPLE_FILES: dict[str, str] = {spec.name: spec.filename for spec, _ in SAMPLES}


def build_sample(name: str) -> bytes:
    """The bytes of one sample (deterministic for a given version and fonts)."""
    for spec, build in SAMPLES:
        if spec.name == name:
            built = build()
            return embed_truth(built.pages, built.truth, spec.format, resolution=PDF_DPI)
    raise KeyError(f"unknown sample {name!r} (known: {', '.join(SAMPLE_FILES)})")


def generate_samples(out_dir: Path) -> list[Path]:
    """Write every sample and ``templates.json`` into ``out_dir``; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for spec, _ in SAMPLES:
        path = out_dir / spec.filename
        path.write_bytes(build_sample(spec.name))
        written.append(path)
    written.append(write_templates(out_dir / TEMPLATES_FILE))
    return written
