"""The operator report: what it counts, shows and escapes, on DuckDB and PostgreSQL.

A real warehouse is made once per module by two ``clova-etl ingest`` runs against the local OCR
server (synthetic engine): run A with three documents and two bad files (one named with HTML
metacharacters), run B with one more document. The report is compared with direct SQL.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, unquote

import pytest

from clova_etl.report import (
    CONFIDENCE_BINS,
    ReportData,
    build_report,
    collect_report,
    confidence_svg,
    display_width,
    format_rows,
    render_html,
    render_text,
)

EVIL_NAME = "<img src=x onerror=alert(1)>.txt"


@dataclass
class Ingested:
    """The module's warehouse and the runs that filled it."""

    root: Path
    uri: str
    run_a: str
    run_b: str

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import duckdb

        con = duckdb.connect(str(self.root / "warehouse.duckdb"), read_only=True)
        try:
            return [tuple(r) for r in con.execute(sql).fetchall()]
        finally:
            con.close()


@pytest.fixture(scope="module")
def ingested(
    tmp_path_factory: pytest.TempPathFactory, ocr_server: Any, sample_docs: dict[str, Path]
) -> Ingested:
    from clova_etl.config import load_config
    from clova_etl.pipeline import run_ingest

    root = tmp_path_factory.mktemp("report")
    inbox = root / "bucket" / "inbox"
    uri = f"duckdb:///{root / 'warehouse.duckdb'}"
    config = load_config(
        env={},
        overrides={
            "source": {"uri": str(root / "bucket")},
            "store": {"uri": str(root / "store")},
            "warehouse": {"uri": uri},
            "ocr": {"invoke_url": ocr_server.invoke_url("general"), "secret": ocr_server.secret},
        },
    )

    def put(name: str, key: str) -> None:
        (inbox / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample_docs[name], inbox / key)

    put("receipt-ko", "general/receipt-ko.png")
    put("invoice-table", "general/invoice-table.png")
    put("claim-form", "template/1001/claim-form.png")
    (inbox / "general" / EVIL_NAME).write_bytes(b"not a scan")
    (inbox / "general" / "empty.png").write_bytes(b"")
    a = run_ingest(config, run_id="run-a")
    put("contract-3p", "general/contract-3p.pdf")
    b = run_ingest(config, run_id="run-b")
    assert a.stopped is None and b.stopped is None
    return Ingested(root, uri, "run-a", "run-b")


def test_counts_match_the_warehouse(ingested: Ingested) -> None:
    data = build_report(ingested.uri)
    assert data.objects_by_status == {"loaded": 4, "rejected": 2}
    assert data.documents == 6 and data.request_documents == 6
    assert data.requests_by_status == {"rejected": 2, "succeeded": 4}
    assert data.billable_calls == 4 and data.billable_pages == 6  # 1 + 1 + 1 + 3 pages
    expected = {
        "pages": "ocr_images",
        "fields": "ocr_fields",
        "subfields": "ocr_subfields",
        "tables": "ocr_tables",
        "table cells": "ocr_table_cells",
        "cell words": "ocr_cell_words",
    }
    for label, table in expected.items():
        assert data.rows[label] == ingested.query(f"SELECT count(*) FROM ocr.{table}")[0][0]
    # Confidence: every field with one is in a bin; the mean is the warehouse's.
    (with_conf, nulls, mean) = ingested.query(
        "SELECT count(infer_confidence), count(*) - count(infer_confidence), "
        "avg(infer_confidence) FROM ocr.ocr_fields"
    )[0]
    assert sum(data.confidence_bins) == with_conf and data.confidence_null == nulls
    assert data.confidence_mean == pytest.approx(mean)
    # Slowest first; every succeeded call is timed.
    durations = [s.duration_ms for s in data.slowest]
    assert durations == sorted(durations, reverse=True) and len(durations) >= 4
    # The checks of the latest load (run B's).
    assert {c.name for c in data.checks} >= {"keys_unique", "confidence_range"}
    assert data.failed_checks == []
    latest = ingested.query("SELECT load_id FROM ocr.etl_loads ORDER BY started_at DESC LIMIT 1")[
        0
    ][0]
    assert data.checks_of == latest


def test_failures_carry_their_reasons(ingested: Ingested) -> None:
    data = build_report(ingested.uri)
    # A source_uri is percent-encoded: decoded, it names the object's key again.
    reasons = {(f.kind, unquote(Path(f.source_uri).name)): f.error_code for f in data.failures}
    assert reasons == {
        ("request", EVIL_NAME): "unsupported_format",
        ("request", "empty.png"): "empty_file",
        ("object", EVIL_NAME): "unsupported_format",
        ("object", "empty.png"): "empty_file",
    }
    assert data.failure_count == 4
    assert all(f.error_message for f in data.failures)


def test_a_run_filter_shows_that_run_only(ingested: Ingested) -> None:
    b = build_report(ingested.uri, run_id=ingested.run_b)
    assert b.requests_by_status == {"succeeded": 1}
    assert b.rows["pages"] == 3 and b.billable_pages == 3
    assert [Path(s.source_uri).name for s in b.slowest] == ["contract-3p.pdf"]
    assert b.failures == [] and [ld.run_id for ld in b.loads] == ["run-b"]
    a = build_report(ingested.uri, run_id=ingested.run_a)
    assert a.requests_by_status == {"rejected": 2, "succeeded": 3}
    assert a.rows["pages"] + b.rows["pages"] == build_report(ingested.uri).rows["pages"]
    nobody = build_report(ingested.uri, run_id="x' OR '1'='1")
    assert nobody.requests == 0 and nobody.rows["fields"] == 0 and nobody.checks == []


class _Page(HTMLParser):
    """Tags, attributes and text of a page; fails on a tag closed out of order."""

    VOID: ClassVar[set[str]] = {"meta", "br", "line", "rect", "path", "circle"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_page_is_static_well_formed_and_escaped(ingested: Ingested, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.html"
    build_report(ingested.uri, out=out)
    html = out.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    page.close()
    assert page.stack == []
    names = [t for t, _ in page.tags]
    # Nothing runs, nothing is fetched.
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(names)
    for _, attrs in page.tags:
        assert not any(k.startswith("on") for k in attrs)
        assert not any(k in {"src", "href"} for k in attrs)
    assert "<style>" in html and names.count("svg") == 1
    assert names.count("rect") == CONFIDENCE_BINS
    # The evil object name is shown, as text: its URI is percent-encoded, never raw markup.
    assert "<img src=x" not in html
    assert quote(EVIL_NAME) in html
    assert any(quote(EVIL_NAME) in t for t in page.text)
    for heading in (
        "Counts",
        "Failures and their reasons",
        "Field confidence",
        "Slowest documents",
    ):
        assert heading in html
    assert "empty_file" in html and "object is empty" in html
    assert ocr_secret_absent(html)


def ocr_secret_absent(html: str) -> bool:
    from tests.fixtures.ocr_server import TEST_SECRET

    return TEST_SECRET not in html


def test_text_report(ingested: Ingested) -> None:
    text = render_text(build_report(ingested.uri))
    assert "  documents: 6 (4 loaded, 2 rejected)" in text
    assert "OCR requests: 6 (2 rejected, 4 succeeded); billed 4 call(s) / 6 page(s)" in text
    assert (
        f"    rejected file://{ingested.root}/bucket/inbox/general/empty.png: empty_file:" in text
    )
    assert "checks of the latest load:" in text and ", 0 fail" in text


def test_confidence_svg_scales_bars_to_the_highest_bin() -> None:
    svg = confidence_svg([0, 5, 10, 0, 0, 0, 0, 0, 0, 20], low=0.5)
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 10
    assert heights[9] == max(heights) and heights[2] == pytest.approx(heights[9] / 2)
    assert heights[0] == 0.0
    fills = re.findall(r'fill="(#[0-9a-f]+)"', svg)
    assert fills[:5] == ["#d92d20"] * 5 and fills[5:] == ["#2e90fa"] * 5  # below 0.5 in red
    assert confidence_svg([0] * 10).count("<rect") == 10  # an empty histogram still draws


def test_text_tables_align_wide_characters() -> None:
    table = format_rows(["k", "v"], [["이름", "홍길동"], ["amount", None], ["multi", "a\nb"]])
    lines = table.splitlines()
    assert display_width("홍길동") == 6
    # The value column starts at the same terminal column on every line: 6 ("amount") + 2.
    for line, value in zip(lines, ["v", "-", "홍길동", None, "a ⏎ b"], strict=True):
        if value and value != "-":
            assert display_width(line[: line.index(value)]) == 8
    assert "a ⏎ b" in table and lines[3] == "amount"


def test_an_empty_warehouse_reports_nothing_wrong(tmp_path: Path) -> None:
    from clova_etl.warehouse import connect

    uri = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    with connect(uri) as wh:
        wh.ensure_schema()
    data = build_report(uri, out=tmp_path / "r.html")
    assert data.documents == 0 and data.failures == [] and data.checks == []
    assert "No failed, rejected or pending" in (tmp_path / "r.html").read_text()
    assert "not loaded: none" in render_text(data)


def test_cli(ingested: Ingested, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from clova_etl.cli import main

    out = tmp_path / "r.html"
    assert main(["report", "--warehouse", ingested.uri, "--out", str(out), "--text"]) == 0
    printed = capsys.readouterr().out
    assert "documents: 6 (4 loaded, 2 rejected)" in printed
    assert f"report (whole warehouse): {out}: 6 document(s), 6 request(s)" in printed
    assert out.is_file()
    assert (
        main(["report", "--warehouse", ingested.uri, "--run-id", "run-b", "--out", str(out)]) == 0
    )
    assert "report (run run-b)" in capsys.readouterr().out

    missing = f"duckdb:///{tmp_path / 'nope.duckdb'}"
    assert main(["report", "--warehouse", missing, "--out", str(out)]) == 1
    assert "no DuckDB file at" in capsys.readouterr().err
    assert not (tmp_path / "nope.duckdb").exists()  # a report never creates a warehouse
    blank = f"duckdb:///{tmp_path / 'blank.duckdb'}"
    import duckdb

    duckdb.connect(str(tmp_path / "blank.duckdb")).close()
    assert main(["report", "--warehouse", blank, "--out", str(out)]) == 1
    assert "has no clova-etl table(s)" in capsys.readouterr().err


def test_cli_without_a_warehouse(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from clova_etl.cli import main

    monkeypatch.delenv("CLOVA_ETL_WAREHOUSE_URI", raising=False)
    assert main(["report"]) == 2
    assert "give the warehouse with --warehouse URI" in capsys.readouterr().err


@pytest.mark.postgres
def test_postgresql_gives_the_same_report(
    ingested: Ingested, postgres_uri: str, pg_schema: Any
) -> None:
    from clova_etl.warehouse import connect

    schema = pg_schema("ocr_report_")
    with connect(postgres_uri, schema=schema) as wh:
        for run in ("run-a", "run-b"):
            (batch,) = (ingested.root / "store" / "parquet").glob(f"{run}*")
            wh.load(batch, run_id=run)
    duck = build_report(ingested.uri)
    pg = build_report(postgres_uri, schema=schema)
    for name in (
        "objects_by_status",
        "requests_by_status",
        "request_documents",
        "rows",
        "billable_calls",
        "billable_pages",
        "confidence_bins",
        "confidence_null",
        "failure_count",
    ):
        assert getattr(pg, name) == getattr(duck, name), name
    assert pg.confidence_mean == pytest.approx(duck.confidence_mean)
    assert [s.request_id for s in pg.slowest] == [s.request_id for s in duck.slowest]
    assert sorted((f.kind, f.source_uri, f.error_code) for f in pg.failures) == sorted(
        (f.kind, f.source_uri, f.error_code) for f in duck.failures
    )
    assert [c.name for c in pg.checks] == [c.name for c in duck.checks]
    with connect(postgres_uri, schema=schema) as wh:
        only_b = collect_report(wh, run_id="run-b")
    assert only_b.requests_by_status == {"succeeded": 1}
    assert "<h1>clova-etl report</h1>" in render_html(pg)
    assert isinstance(pg, ReportData)
