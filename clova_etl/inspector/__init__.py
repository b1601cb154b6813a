"""The OCR inspector: each page image with what CLOVA read drawn over it, as static HTML.

    written = build_inspector("duckdb:///data/warehouse.duckdb", "inspect/", run_id="…")

One HTML page per document (named by :func:`page_file` from its source URI, so the report can
link to it) and ``index.html`` listing them (one request or document alone does not replace an
existing list); page images go in ``images/`` beside them. The pages work opened from disk,
offline; they hold no credentials.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clova_etl.inspector.data import NothingToInspectError, Selection, load_documents
from clova_etl.inspector.html import confidence_class, render_document, render_index
from clova_etl.inspector.images import (
    ImageUnavailableError,
    changed_since_read,
    read_source,
    render_page,
)
from clova_etl.inspector.model import Document, Page, page_file

if TYPE_CHECKING:
    from clova_etl.pipeline.storage import Storage

__all__ = [
    "Document",
    "InspectorResult",
    "NothingToInspectError",
    "Page",
    "Selection",
    "build_inspector",
    "confidence_class",
    "page_file",
    "render_document",
    "render_index",
]


@dataclass
class InspectorResult:
    """What was written: the index, one page per document, and pages shown without an image."""

    index: Path
    pages: dict[str, Path] = field(default_factory=dict)
    """Inspector page per source URI."""
    missing_images: int = 0
    documents: list[Document] = field(default_factory=list)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _images(
    doc: Document, out: Path, storage: Storage | None
) -> tuple[dict[str, tuple[float, float]], int]:
    """Write the document's page images; returns the drawing size per page and pages missed."""
    sizes: dict[str, tuple[float, float]] = {}
    if not doc.pages:
        return sizes, 0
    try:
        data: bytes | None = read_source(doc.source_uri, storage)
    except ImageUnavailableError as exc:
        data, reason = None, str(exc)
    sha = {r.request_id: r.source_sha256 for r in doc.requests}
    missing = 0
    folder = out / "images"
    for page in doc.pages:
        if data is None:
            page.image_note = f"No page image: {reason}"
            missing += 1
            continue
        try:
            image = render_page(data, page.source_page, width=page.width)
        except ImageUnavailableError as exc:
            page.image_note = f"No page image: {exc}"
            missing += 1
            continue
        digest = hashlib.sha256(image.data).hexdigest()[:16]
        name = f"{digest}.{image.ext}"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / name).exists():
            _write(folder / name, image.data)
        page.image = f"images/{name}"
        # The boxes are in the page's coordinates: the converted size when the service gave
        # one, else the image's own pixels (JPEG/PNG are read as they are).
        if page.width and page.height:
            sizes[page.anchor] = (float(page.width), float(page.height))
        else:
            sizes[page.anchor] = (float(image.width), float(image.height))
        if changed_since_read(data, sha.get(page.request_id)):
            page.image_note = (
                "The object in the bucket has changed since it was read: the boxes may not fit."
            )
    return sizes, missing


# Pages of a failed request shown as they are, at most this many per request.
UNREAD_PAGES_SHOWN = 10


def _unread_pages(doc: Document) -> None:
    """Give a failed request's pages (no result) to the document, so they can be looked at."""
    read = {p.request_id for p in doc.pages}
    for req in doc.requests:
        if req.status != "failed" or req.request_id in read:
            continue
        first = req.page_start or 1
        last = min(req.page_end or first, first + UNREAD_PAGES_SHOWN - 1)
        for number in range(first, last + 1):
            doc.pages.append(Page(req.request_id, number - first, number, None, None, None, None))
    doc.pages.sort(key=lambda p: (p.source_page, p.request_id, p.image_index))


def build_inspector(
    uri: str,
    out: str | Path,
    *,
    request_id: str | None = None,
    source_uri: str | None = None,
    run_id: str | None = None,
    storage: Storage | None = None,
    schema: str | None = None,
    low_confidence: float = 0.5,
) -> InspectorResult:
    """Write the inspector pages of the selected documents into ``out``.

    ``storage`` is the source bucket page images are read from; without it (or for an object
    outside it) a ``file://`` source is read in place, anything else is drawn without its image.
    """
    from clova_etl.report.data import NotAClovaWarehouseError
    from clova_etl.warehouse import DEFAULT_SCHEMA, connect, parse_warehouse_uri

    parsed = parse_warehouse_uri(uri)
    if (
        parsed.dialect == "duckdb"
        and parsed.target != ":memory:"
        and not Path(parsed.target).exists()
    ):
        raise NotAClovaWarehouseError(f"no DuckDB file at {parsed.target}")
    selection = Selection(request_id=request_id, source_uri=source_uri, run_id=run_id)
    with connect(parsed, schema=schema or DEFAULT_SCHEMA) as wh:
        docs = load_documents(wh, selection)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    result = InspectorResult(index=folder / "index.html", documents=docs)
    for doc in docs:
        _unread_pages(doc)
        sizes, missing = _images(doc, folder, storage)
        result.missing_images += missing
        path = folder / page_file(doc.source_uri)
        html = render_document(doc, low=low_confidence, sizes=sizes, index_link=True)
        _write(path, html.encode("utf-8"))
        result.pages[doc.source_uri] = path
    # One document's page joins the folder without replacing the list a run (or --all) wrote.
    single = bool(selection.request_id or selection.source_uri)
    if not single or not result.index.exists():
        index = render_index(docs, title=selection.describe(), low=low_confidence)
        _write(result.index, index.encode("utf-8"))
    return result
