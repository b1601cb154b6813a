"""``clova-etl inspect`` on a real warehouse, looked at in a real browser (headless Chromium).

The screenshots are read back: a field selected through the URL (``#id``, what a click in the
side panel does) is drawn in the selection colour, which gives the scale and offset of the
drawing on screen; the boxes of other fields must then be drawn, in their confidence colour,
exactly where the warehouse says those fields are.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from clova_etl.inspector import (
    InspectorResult,
    build_inspector,
    confidence_class,
    page_file,
    render_document,
)
from clova_etl.inspector.model import Box, Document, Page, Request
from tests.fixtures.analyst import EVIL_NAME, AnalystWarehouse, load_into_postgres
from tests.fixtures.browser import Chromium

SELECTED = (122, 90, 248)  # #7a5af8, the selection's stroke
GREEN = (18, 183, 106)  # #12b76a, confidence >= 0.9


@pytest.fixture(scope="module")
def inspected(analyst_warehouse: AnalystWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from clova_etl.pipeline.storage import Storage

    out = tmp_path_factory.mktemp("inspect")
    result = build_inspector(
        analyst_warehouse.uri,
        out,
        run_id=analyst_warehouse.run_id,
        storage=Storage.local(analyst_warehouse.bucket),
    )
    return result


def _fields(wh: AnalystWarehouse, key: str) -> list[dict[str, Any]]:
    rows = wh.query(
        "SELECT f.field_index, f.name, f.infer_confidence, f.x_min, f.y_min, f.x_max, f.y_max, "
        "f.request_id, f.image_index FROM ocr.ocr_fields AS f JOIN ocr.ocr_requests AS r "
        f"USING (request_id) WHERE r.source_uri = '{wh.source_uri(key)}' AND f.field_index >= 0 "
        "ORDER BY f.field_index"
    )
    names = ["index", "name", "conf", "x0", "y0", "x1", "y1", "request_id", "image"]
    return [dict(zip(names, r, strict=True)) for r in rows]


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(int(p) - c) <= tolerance for p, c in zip(pixel, colour, strict=False))


def _region(image: Any, colour: tuple[int, int, int], right: int) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the pixels of ``colour`` left of ``right``."""
    px = image.load()
    xs, ys = [], []
    for y in range(image.height):
        for x in range(0, right, 1):
            if _near(px[x, y], colour, 30):
                xs.append(x)
                ys.append(y)
    assert xs, f"no pixel of colour {colour} on the screenshot"
    return min(xs), min(ys), max(xs), max(ys)


def _url(result: InspectorResult, uri: str, fragment: str = "") -> str:
    return result.pages[uri].resolve().as_uri() + (f"#{fragment}" if fragment else "")


def _transform(
    shot: Any, box: dict[str, Any]
) -> tuple[float, float, float]:  # scale, offset x, offset y
    x0, y0, x1, y1 = _region(shot, SELECTED, int(shot.width * 0.72))
    # The selection's stroke is 4 px wide, centred on the box's edge.
    x0, y0, x1, y1 = x0 + 2, y0 + 2, x1 - 2, y1 - 2
    scale = (x1 - x0) / (box["x1"] - box["x0"])
    # Same scale both ways: the drawing keeps the page's proportions.
    assert (y1 - y0) / (box["y1"] - box["y0"]) == pytest.approx(scale, rel=0.1)
    return scale, x0 - box["x0"] * scale, y0 - box["y0"] * scale


@pytest.mark.browser
@pytest.mark.slow
def test_template_fields_are_drawn_where_they_are(
    inspected: InspectorResult, analyst_warehouse: AnalystWarehouse, chromium: Chromium
) -> None:
    uri = analyst_warehouse.source_uri("inbox/template/1001/claim-form.png")
    fields = {
        f["name"]: f for f in _fields(analyst_warehouse, "inbox/template/1001/claim-form.png")
    }
    assert {"name", "amount", "fax-checkbox", "email-checkbox"} <= set(fields)
    name = fields["name"]
    anchor = f"p1-{name['request_id'][:8]}-{name['image']}-f{name['index']}"
    page = chromium.render(_url(inspected, uri, anchor))
    assert page.console == [], page.console
    shot = page.screenshot
    scale, dx, dy = _transform(shot, name)
    assert 0.3 < scale < 2

    amount = fields["amount"]
    assert confidence_class(amount["conf"], 0.5) == "c3"
    px = shot.load()
    # The amount's box: its outline is green all round, its inside tinted green.
    left, top = dx + amount["x0"] * scale, dy + amount["y0"] * scale
    right, bottom = dx + amount["x1"] * scale, dy + amount["y1"] * scale
    mid_y, mid_x = int((top + bottom) / 2), int((left + right) / 2)
    for x, y in ((left, mid_y), (right, mid_y), (mid_x, top), (mid_x, bottom)):
        around = [px[int(x) + d, y] if y == mid_y else px[x, int(y) + d] for d in (-2, -1, 0, 1, 2)]
        assert any(_near(p, GREEN, 50) for p in around), (x, y, around)
    inside = px[int(left) + 3, int(top) + 3]
    assert inside[1] > inside[0] + 8, inside  # a green tint over the paper
    # Outside every box (left margin of the form, at the amount's height): no tint.
    margin = px[int(dx + 10 * scale), mid_y]
    assert not _near(margin, GREEN, 50)

    # The DOM: labels with names and values, checkboxes, the selection in the side panel.
    dom = page.dom
    assert "name: " in dom and "☑ fax-checkbox" in dom and "☐ email-checkbox" in dom
    assert re.search(
        rf'class="[^"]*sel[^"]*"[^>]*data-f="{anchor}"|data-f="{anchor}"[^>]*class="[^"]*sel', dom
    )


@pytest.mark.browser
@pytest.mark.slow
def test_table_cells_are_drawn_as_their_grid(
    inspected: InspectorResult, analyst_warehouse: AnalystWarehouse, chromium: Chromium
) -> None:
    key = "inbox/general/invoice-table.png"
    uri = analyst_warehouse.source_uri(key)
    cells = analyst_warehouse.query(
        "SELECT c.request_id, c.table_index, c.cell_index, c.x_min, c.y_min, c.x_max, c.y_max, "
        "c.row_span, c.column_span FROM ocr.ocr_table_cells AS c JOIN ocr.ocr_requests AS r "
        f"USING (request_id) WHERE r.source_uri = '{uri}' ORDER BY c.cell_index"
    )
    spanning = [c for c in cells if c[7] > 1 or c[8] > 1]
    assert spanning, "the invoice has merged cells"
    # The widest merged cell gives the most precise scale.
    rid, t, c, x0, y0, x1, y1 = max(spanning, key=lambda row: row[5] - row[3])[:7]
    anchor = f"p1-{rid[:8]}-0-t{t}c{c}"
    page = chromium.render(_url(inspected, uri, anchor))
    assert page.console == [], page.console
    scale, dx, dy = _transform(page.screenshot, {"x0": x0, "y0": y0, "x1": x1, "y1": y1})
    # Every other cell's left edge is drawn in the cells' blue at its place.
    px = page.screenshot.load()
    hits = 0
    for row in cells:
        if row[2] == c:
            continue
        x, y = dx + row[3] * scale, dy + (row[4] + row[6]) / 2 * scale
        around = [px[int(x) + d, int(y)] for d in range(-4, 5)]
        # Blue-dominant (the thin stroke blends with the form's printed rule under it).
        if any(b > r + 80 and b > g + 20 for r, g, b in around):
            hits += 1
    assert hits >= len(cells) - 3, (hits, len(cells))
    dom = page.dom
    assert dom.count('class="cell') == len(cells)
    assert re.search(r"<td (rowspan|colspan)=", dom)  # the grid beside, spans included


def test_every_document_has_a_page_and_the_index_links_them(
    inspected: InspectorResult, analyst_warehouse: AnalystWarehouse
) -> None:
    index = inspected.index.read_text(encoding="utf-8")
    assert len(inspected.pages) == 6
    for uri, path in inspected.pages.items():
        assert path.name == page_file(uri) and f'href="{path.name}"' in index
    fax = inspected.pages[analyst_warehouse.source_uri("inbox/general/fax-2p.tiff")]
    html = fax.read_text(encoding="utf-8")
    images = re.findall(r'<image href="(images/[0-9a-f]+\.png)"', html)
    assert len(images) == 2 and len(set(images)) == 2  # both TIFF pages, rendered
    for image in images:
        assert (fax.parent / image).stat().st_size > 1000
    assert inspected.missing_images == 0


def test_failures_show_their_message(
    inspected: InspectorResult, analyst_warehouse: AnalystWarehouse
) -> None:
    failed = inspected.pages[analyst_warehouse.source_uri("inbox/template/1001/receipt-en.jpg")]
    (message,) = analyst_warehouse.query(
        "SELECT i.message FROM ocr.ocr_images AS i JOIN ocr.ocr_requests AS r USING (request_id) "
        "WHERE i.infer_result = 'FAILURE'"
    )[0:1]
    html = failed.read_text(encoding="utf-8")
    assert 'class="banner"><b>FAILURE</b>' in html and message[0] in html
    rejected = inspected.pages[analyst_warehouse.source_uri(f"inbox/general/{EVIL_NAME}")]
    html = rejected.read_text(encoding="utf-8")
    assert "unsupported_format" in html and "No page was read" in html
    # Its name is shown in its URI, percent-encoded: never as markup.
    assert "<b onmouseover" not in html and quote(EVIL_NAME) in html


def test_no_secret_and_nothing_fetched(inspected: InspectorResult, analyst_warehouse: Any) -> None:
    folder = inspected.index.parent
    for path in folder.rglob("*"):
        if path.is_file():
            assert analyst_warehouse.secret.encode() not in path.read_bytes()
        if path.suffix == ".html":
            text = path.read_text(encoding="utf-8")
            assert not re.search(r'(src|href)="(https?:)?//', text), path


def test_error_pages_say_why_without_an_image() -> None:
    page = Page("r" * 36, 0, 2, "ERROR", "image could not be decoded", None, None)
    doc = Document(
        "s3://scans/inbox/broken.tiff",
        [Request("r" * 36, "general", "succeeded", None, None, None, "tiff", 1, 2, None, None)],
        [page],
    )
    page.image_note = "No page image: s3://scans/inbox/broken.tiff is not in the bucket"
    html = render_document(doc)
    assert "<b>ERROR</b>: image could not be decoded" in html
    assert "No page image: s3://scans" in html
    assert Box(0, 0, 10, 5).points() == "0.0 0.0 10.0 0.0 10.0 5.0 0.0 5.0"


@pytest.mark.postgres
def test_the_cli_on_postgresql(
    analyst_warehouse: AnalystWarehouse,
    postgres_uri: str,
    pg_schema: Any,
    tmp_path: Path,
) -> None:
    schema = pg_schema("ocr_inspect_")
    load_into_postgres(analyst_warehouse, postgres_uri, schema)
    uri = analyst_warehouse.source_uri("inbox/general/invoice-table.png")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "clova_etl.cli",
            "inspect",
            "--warehouse",
            postgres_uri,
            "--schema",
            schema,
            "--source-uri",
            uri,
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 document(s), 1 page(s)" in proc.stdout
    html = (tmp_path / "out" / page_file(uri)).read_text(encoding="utf-8")
    assert html.count('class="cell') == 21 and "<image href=" in html
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "clova_etl.cli",
            "inspect",
            "--warehouse",
            postgres_uri,
            "--schema",
            schema,
            "--request-id",
            "nope",
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and "no OCR request for request nope" in missing.stderr


def test_the_report_links_each_document_to_its_page(
    inspected: InspectorResult, analyst_warehouse: AnalystWarehouse, tmp_path: Path
) -> None:
    import os.path

    from clova_etl.report import build_report

    out = tmp_path / "report" / "report.html"
    # The inspector's folder seen from the report's, as `clova-etl report --inspect` links it.
    href = os.path.relpath(inspected.index.parent, out.parent)
    build_report(analyst_warehouse.uri, out=out, inspect_href=href)
    html = out.read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+\.html)"', html)
    assert len(links) >= 5  # least confident, slowest, failed requests
    for link in links:
        assert (out.parent / link).resolve().exists(), link
    failed = analyst_warehouse.source_uri(f"inbox/general/{EVIL_NAME}")
    assert page_file(failed) in html  # a failed request links to the page showing its reason


def test_a_failed_request_shows_its_pages_unread(
    sample_docs: dict[str, Path], tmp_path: Path
) -> None:
    from clova_etl.inspector import _images, _unread_pages

    pdf = sample_docs["contract-3p"]
    request = Request(
        "f" * 36,
        "general",
        "failed",
        "0011",
        "the server refused it",
        None,
        "pdf",
        1,
        3,
        None,
        None,
    )
    doc = Document(pdf.resolve().as_uri(), [request])
    _unread_pages(doc)
    assert [p.source_page for p in doc.pages] == [1, 2, 3]
    sizes, missing = _images(doc, tmp_path, None)
    assert missing == 0 and len(sizes) == 3
    html = render_document(doc, sizes=sizes)
    assert html.count(">not read</span>") == 3 and html.count("<image href=") == 3
    assert "<b>failed</b> 0011: the server refused it" in html
