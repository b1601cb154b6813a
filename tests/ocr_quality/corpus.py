"""Documents with known text for measuring the tesseract engine, drawn here (not the samples).

Each document is rendered with the fonts the project's set-up installs (Noto Sans CJK, DejaVu)
through the sample generator's :class:`PageCanvas`, which records every word with the box of
its ink. The truth stays in this module: the files carry no embedded truth, so the engine can
only read pixels. Rows are recorded as drawn (a receipt row = item, quantity and amount), and
tables keep their cell grid.

Used by ``tests/ocr_quality`` (thresholds) and ``bench/bench_ocr_quality.py`` (figures).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageFilter

from clova_etl.samples.canvas import DrawnWord, PageCanvas
from clova_etl.samples.fonts import Script, load_font

Format = Literal["png", "jpg", "pdf", "tiff"]
Box = tuple[float, float, float, float]
# PDF pages are written at this density and the server renders them at its default, the same.
PDF_DPI = 144.0


@dataclass(frozen=True)
class TruthCell:
    """A table cell as drawn: grid place, spans, and its text lines."""

    row: int
    col: int
    row_span: int
    col_span: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The cell's text, lines joined by a space."""
        return " ".join(self.lines)


@dataclass
class QualityPage:
    """One drawn page: its size, its rows of words, and its table cells (if any)."""

    width: int
    height: int
    rows: list[list[DrawnWord]] = field(default_factory=list)
    cells: list[TruthCell] = field(default_factory=list)

    @property
    def words(self) -> list[DrawnWord]:
        """Every word, row by row."""
        return [w for row in self.rows for w in row]


@dataclass(frozen=True)
class QualityDoc:
    """A document to send: its bytes and request options, and what is written on it."""

    name: str
    language: str  # the figure it counts towards: ko, en, ja, zh-TW
    lang: tuple[str, ...]  # the request's ``lang``
    format: Format
    data: bytes
    pages: tuple[QualityPage, ...]
    table_detection: bool = False


class _Drawer:
    """A canvas that groups the words it draws into rows."""

    def __init__(self, width: int, height: int, name: str) -> None:
        self.canvas = PageCanvas(width, height, seed=name)
        self.page = QualityPage(width, height)

    def row(self, y: float, parts: list[tuple[float, str, str]], size: int, script: Script) -> None:
        """Draw one row of ``(x, align, text)`` parts; align is ``l``, ``r`` or ``c``."""
        font = load_font(script, size)
        drawn: list[DrawnWord] = []
        for x, align, text in parts:
            if align == "r":
                drawn += self.canvas.line_right(x, y, text, font)
            elif align == "c":
                drawn += self.canvas.line_center(x, y, text, font)
            else:
                drawn += self.canvas.line(x, y, text, font)
        self.page.rows.append(drawn)

    def rule(self, y: float, x0: float, x1: float) -> None:
        """A horizontal rule."""
        self.canvas.rule(x0, y, x1, y)


def _encode(pages: list[Image.Image], fmt: Format) -> bytes:
    out = io.BytesIO()
    if fmt == "png":
        pages[0].save(out, "PNG")
    elif fmt == "jpg":
        pages[0].convert("RGB").save(out, "JPEG", quality=90)
    elif fmt == "tiff":
        pages[0].save(
            out, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_deflate"
        )
    else:
        rgb = [p.convert("RGB") for p in pages]
        rgb[0].save(out, "PDF", save_all=True, append_images=rgb[1:], resolution=PDF_DPI)
    return out.getvalue()


Item = tuple[str, str, str]


def _receipt(
    name: str,
    script: Script,
    header: list[str],
    columns: tuple[str, str, str],
    items: list[Item],
    totals: list[tuple[str, str]],
    footer: str,
) -> tuple[QualityPage, Image.Image]:
    width, margin, qty_x = 640, 40, 420.0
    right = float(width - margin)
    height = 330 + 42 * (len(header) + len(items) + len(totals))
    d = _Drawer(width, height, name)
    d.row(36, [(width / 2, "c", header[0])], 34, script)
    y = 96.0
    for text in header[1:]:
        d.row(y, [(margin, "l", text)], 24, script)
        y += 40
    d.rule(y + 6, margin, right)
    y += 20
    d.row(
        y,
        [(margin, "l", columns[0]), (qty_x, "l", columns[1]), (right, "r", columns[2])],
        24,
        script,
    )
    y += 44
    d.rule(y, margin, right)
    y += 14
    for item, qty, amount in items:
        d.row(y, [(margin, "l", item), (qty_x, "l", qty), (right, "r", amount)], 24, script)
        y += 42
    d.rule(y, margin, right)
    y += 14
    for label, amount in totals:
        d.row(y, [(margin, "l", label), (right, "r", amount)], 24, script)
        y += 42
    d.row(y + 16, [(width / 2, "c", footer)], 24, script)
    return d.page, d.canvas.image


def receipt_ko() -> QualityDoc:
    """A Korean café receipt: Hangul and digits."""
    page, image = _receipt(
        "q-receipt-ko",
        "ko",
        ["카페 봄날", "서울시 마포구 와우산로 21", "전화 02-332-7788", "2024-05-02 08:17 No.0415"],
        ("메뉴", "수량", "금액"),
        [
            ("아메리카노", "2", "9,000"),
            ("카페라떼", "1", "5,000"),
            ("치즈케이크", "1", "6,500"),
            ("딸기 스무디", "1", "6,800"),
        ],
        [("합계", "27,300"), ("받은금액", "30,000"), ("거스름돈", "2,700")],
        "영수증을 보관해 주세요",
    )
    return QualityDoc("receipt-ko", "ko", ("ko",), "png", _encode([image], "png"), (page,))


def _scanned(page: QualityPage, image: Image.Image, degrees: float, seed: int) -> Image.Image:
    """The page as a cheap scanner gives it back: turned a little, soft, grainy, as JPEG;
    the drawn word boxes are turned with it (their axis-aligned hull)."""
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor="white")
    soft = turned.filter(ImageFilter.GaussianBlur(0.8)).convert("L")
    rng = np.random.default_rng(seed)
    grain = np.asarray(soft, dtype=np.int16) + rng.normal(0, 10, (soft.height, soft.width))
    scanned = Image.fromarray(np.clip(grain, 0, 255).astype(np.uint8))
    theta = math.radians(degrees)
    cx, cy = image.width / 2, image.height / 2

    def turn(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - cx, y - cy
        return (
            cx + dx * math.cos(theta) + dy * math.sin(theta),
            cy - dx * math.sin(theta) + dy * math.cos(theta),
        )

    for word in page.words:
        x0, y0, x1, y1 = word.box
        corners = [turn(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        word.box = (
            min(c[0] for c in corners),
            min(c[1] for c in corners),
            max(c[0] for c in corners),
            max(c[1] for c in corners),
        )
    return scanned


def receipt_ko_scan() -> QualityDoc:
    """The Korean receipt as a poor scan: turned 1 degree, blurred, noisy, JPEG quality 70."""
    page, image = _receipt(
        "q-receipt-ko-scan",
        "ko",
        ["분식 나라", "부산시 해운대구 중동 1394", "전화 051-747-2200", "2024-05-03 12:41 No.0088"],
        ("메뉴", "수량", "금액"),
        [
            ("김밥", "3", "10,500"),
            ("떡볶이", "2", "9,000"),
            ("라면", "1", "4,500"),
            ("순대 모둠", "1", "7,000"),
        ],
        [("합계", "31,000"), ("카드", "31,000")],
        "또 오세요",
    )
    scanned = _scanned(page, image, 1.0, seed=7)
    out = io.BytesIO()
    scanned.save(out, "JPEG", quality=70)
    return QualityDoc("receipt-ko-scan", "ko", ("ko",), "jpg", out.getvalue(), (page,))


def receipt_en() -> QualityDoc:
    """An English hardware-store receipt (JPEG): Latin letters, digits and punctuation."""
    page, image = _receipt(
        "q-receipt-en",
        "latin",
        [
            "HILLTOP HARDWARE",
            "480 Oak Avenue, Portland OR",
            "Phone 503-555-0192",
            "Receipt 20240502-117",
        ],
        ("Item", "Qty", "Price"),
        [
            ("Claw Hammer 16oz", "1", "18.99"),
            ("Wood Screws #8", "2", "13.50"),
            ("Paint Roller Kit", "1", "11.25"),
            ("Masking Tape 2in", "3", "14.37"),
        ],
        [("Subtotal", "58.11"), ("TOTAL", "58.11"), ("Cash", "60.00"), ("Change", "1.89")],
        "Thank you for shopping!",
    )
    return QualityDoc("receipt-en", "en", ("ko",), "jpg", _encode([image], "jpg"), (page,))


def _notice(name: str, script: Script, lines: tuple[str, ...]) -> tuple[QualityPage, Image.Image]:
    width, height = 900, 170 + 58 * len(lines)
    d = _Drawer(width, height, name)
    d.row(40, [(width / 2, "c", lines[0])], 44, script)
    y = 130.0
    for line in lines[1:]:
        d.row(y, [(70, "l", line)], 30, script)
        y += 58
    return d.page, d.canvas.image


def notice_ja() -> QualityDoc:
    """A Japanese closing notice: kana and kanji (words separated as CLOVA segments them)."""
    page, image = _notice(
        "q-notice-ja",
        "ja",
        (
            "臨時休業のお知らせ",
            "平素より 格別の ご愛顧を 賜り ありがとう ございます。",
            "誠に 勝手ながら 下記の 期間を 休業と いたします。",
            "休業期間 5月3日 〜 5月6日",
            "営業再開 5月7日 午前10時",
            "ご不便を おかけしますが よろしく お願いします。",
            "大阪市 北区 梅田 2-4-9 みどり書店",
        ),
    )
    return QualityDoc("notice-ja", "ja", ("ja",), "png", _encode([image], "png"), (page,))


def notice_zh_tw() -> QualityDoc:
    """A Traditional Chinese water-outage notice."""
    page, image = _notice(
        "q-notice-zh-tw",
        "zh-TW",
        (
            "停水通知",
            "各位 住戶 您好",
            "因 配合 自來水 管線 維修 工程",
            "本 社區 將於 六月 十日 停止 供水",
            "停水 時間 上午 八點 至 下午 五點",
            "請 各位 住戶 提前 儲水 備用",
            "新北市 板橋區 文化路 二段 88號",
            "管理 委員會 敬啟",
        ),
    )
    return QualityDoc("notice-zh-tw", "zh-TW", ("zh-TW",), "png", _encode([image], "png"), (page,))


# The quotation table: column edges, row edges (row 3 holds two lines), and its cells.
_COLS = (60.0, 230.0, 520.0, 680.0, 800.0, 1040.0)
_ROWS = (300.0, 354.0, 414.0, 474.0, 564.0, 624.0, 684.0)
_TABLE: tuple[tuple[int, int, int, int, tuple[str, ...], bool], ...] = (
    # row, col, row span, col span, lines, right-aligned
    (0, 0, 1, 1, ("구분",), False),
    (0, 1, 1, 1, ("품명",), False),
    (0, 2, 1, 1, ("규격",), False),
    (0, 3, 1, 1, ("수량",), False),
    (0, 4, 1, 1, ("금액",), False),
    (1, 0, 2, 1, ("전산장비",), False),
    (1, 1, 1, 1, ("노트북",), False),
    (1, 2, 1, 1, ("15인치",), False),
    (1, 3, 1, 1, ("2",), True),
    (1, 4, 1, 1, ("2,400,000",), True),
    (2, 1, 1, 1, ("모니터",), False),
    (2, 2, 1, 1, ("27인치",), False),
    (2, 3, 1, 1, ("2",), True),
    (2, 4, 1, 1, ("640,000",), True),
    (3, 0, 1, 1, ("소모품",), False),
    (3, 1, 1, 1, ("토너", "카트리지 K-2"), False),
    (3, 2, 1, 1, ("표준",), False),
    (3, 3, 1, 1, ("5",), True),
    (3, 4, 1, 1, ("350,000",), True),
    (4, 0, 1, 1, ("기타",), False),
    (4, 1, 1, 1, ("설치비",), False),
    (4, 2, 1, 1, (), False),  # left blank
    (4, 3, 1, 1, ("1",), True),
    (4, 4, 1, 1, ("100,000",), True),
    (5, 0, 1, 4, ("합계",), False),
    (5, 4, 1, 1, ("3,490,000",), True),
)


def _quotation(name: str) -> tuple[QualityPage, Image.Image]:
    """A Korean quotation with a ruled 6x5 table: a row span, a column span, a blank cell and
    a two-line cell."""
    width, height = 1100, 820
    d = _Drawer(width, height, name)
    d.row(40, [(width / 2, "c", "견적서 QUOTATION")], 42, "ko")
    d.row(140, [(60, "l", "수신 대한물산 구매팀"), (1040, "r", "견적일 2024-05-02")], 24, "ko")
    d.row(190, [(60, "l", "아래와 같이 견적합니다.")], 24, "ko")
    font = load_font("ko", 24)
    by_row: dict[float, list[DrawnWord]] = {}
    for row, col, row_span, col_span, lines, right in _TABLE:
        box = (_COLS[col], _ROWS[row], _COLS[col + col_span], _ROWS[row + row_span])
        d.canvas.rect(box)
        for i, text in enumerate(lines):
            y = box[1] + 13 + 36 * i
            if right:
                words = d.canvas.line_right(box[2] - 14, y, text, font)
            else:
                words = d.canvas.line(box[0] + 14, y, text, font)
            by_row.setdefault(y, []).extend(words)
        d.page.cells.append(TruthCell(row, col, row_span, col_span, lines))
    d.canvas.rect((_COLS[0], _ROWS[0], _COLS[-1], _ROWS[-1]), width=3)
    for y in sorted(by_row):
        d.page.rows.append(sorted(by_row[y], key=lambda w: w.box[0]))
    d.row(720, [(60, "l", "유효기간 발행일로부터 30일")], 24, "ko")
    d.row(764, [(60, "l", "담당 김하늘 010-2345-6789")], 24, "ko")
    return d.page, d.canvas.image


def quotation_table() -> QualityDoc:
    """The quotation, clean (PNG)."""
    page, image = _quotation("q-quotation")
    return QualityDoc(
        "quotation-table", "ko", ("ko",), "png", _encode([image], "png"), (page,), True
    )


def quotation_table_scan() -> QualityDoc:
    """The quotation as a poor scan (turned 0.7 degree, blurred, noisy, JPEG): skewed rulings."""
    page, image = _quotation("q-quotation")
    scanned = _scanned(page, image, 0.7, seed=11)
    out = io.BytesIO()
    scanned.save(out, "JPEG", quality=75)
    return QualityDoc("quotation-table-scan", "ko", ("ko",), "jpg", out.getvalue(), (page,), True)


def _text_page(
    name: str, size: tuple[int, int], lines: tuple[str, ...], script: Script
) -> tuple[QualityPage, Image.Image]:
    d = _Drawer(size[0], size[1], name)
    y = 60.0
    for line in lines:
        d.row(y, [(60, "l", line)], 28, script)
        y += 56
    return d.page, d.canvas.image


def minutes_pdf() -> QualityDoc:
    """Two PDF pages of different sizes (portrait and landscape): Hangul mixed with Latin."""
    p1, i1 = _text_page(
        "q-minutes-1",
        (800, 560),
        (
            "회의록 Meeting Notes",
            "일시 2024-05-02 14:00",
            "장소 본사 3층 회의실 B",
            "참석 김민준 이서연 Park",
        ),
        "ko",
    )
    p2, i2 = _text_page(
        "q-minutes-2",
        (640, 720),
        ("결정 사항", "1. 신규 OCR 도입 6월", "2. 예산 12,000,000원 승인", "3. 다음 회의 5월 16일"),
        "ko",
    )
    return QualityDoc("minutes-pdf", "ko", ("ko",), "pdf", _encode([i1, i2], "pdf"), (p1, p2))


def packing_tiff() -> QualityDoc:
    """Two grey TIFF pages in English with digits."""
    p1, i1 = _text_page(
        "q-packing-1",
        (720, 420),
        ("PACKING LIST", "Order 88213 Box 1 of 2", "Shipped 2024-05-03", "Carrier Blue Line"),
        "latin",
    )
    p2, i2 = _text_page(
        "q-packing-2",
        (720, 420),
        ("Contents", "12 x Cable Ties 300mm", "4 x Power Strip 6-way", "Weight 7.4 kg"),
        "latin",
    )
    pages = [i1.convert("L"), i2.convert("L")]
    return QualityDoc("packing-tiff", "en", ("ko",), "tiff", _encode(pages, "tiff"), (p1, p2))


GENERAL_DOCS: dict[str, Callable[[], QualityDoc]] = {
    "receipt-ko": receipt_ko,
    "receipt-ko-scan": receipt_ko_scan,
    "receipt-en": receipt_en,
    "notice-ja": notice_ja,
    "notice-zh-tw": notice_zh_tw,
    "quotation-table": quotation_table,
    "quotation-table-scan": quotation_table_scan,
    "minutes-pdf": minutes_pdf,
    "packing-tiff": packing_tiff,
}


@cache
def general_doc(name: str) -> QualityDoc:
    """One general-OCR document of the corpus, drawn once per process."""
    return GENERAL_DOCS[name]()


# --- template OCR: a delivery note and its template file -------------------------------------

DELIVERY_ID = 2001
DELIVERY_NAME = "delivery-note"
DELIVERY_TITLE = "배송 확인서"
DELIVERY_VALUES: dict[str, str | bool] = {
    "recipient": "김하늘",
    "tracking-no": "58201934",
    "memo": "문 앞에 놓아 주세요\n부재 시 경비실",
    "received-checkbox": True,
    "damaged-checkbox": False,
}
_DELIVERY_PAGE = (1000, 700)
_LABELS = {
    "recipient": "받는 분",
    "tracking-no": "운송장 번호",
    "memo": "요청 사항",
    "received-checkbox": "수령 확인",
    "damaged-checkbox": "파손 있음",
}


def _boxes(x0: int, y0: int, size: int, gap: int, count: int) -> list[list[int]]:
    return [
        [x0 + i * (size + gap), y0, x0 + i * (size + gap) + size, y0 + size] for i in range(count)
    ]


def delivery_template_json() -> dict[str, Any]:
    """The delivery note's template, in the ``templates.json`` format (with ``title.text``)."""
    boxes = _boxes(300, 230, 56, 8, 8)
    return {
        "id": DELIVERY_ID,
        "name": DELIVERY_NAME,
        "page": {"width": _DELIVERY_PAGE[0], "height": _DELIVERY_PAGE[1]},
        "title": {
            "name": "title",
            "type": "NORMAL",
            "box": [250, 30, 750, 110],
            "text": DELIVERY_TITLE,
        },
        "regions": [
            {
                "name": "recipient",
                "type": "NORMAL",
                "valueType": "ALL",
                "box": [300, 150, 900, 205],
            },
            {
                "name": "tracking-no",
                "type": "MULTI_BOX",
                "valueType": "NUMERIC",
                "box": [boxes[0][0], boxes[0][1], boxes[-1][2], boxes[-1][3]],
                "boxCount": len(boxes),
                "boxes": boxes,
            },
            {"name": "memo", "type": "NORMAL", "valueType": "ALL", "box": [300, 320, 900, 430]},
            {"name": "received-checkbox", "type": "CHECKBOX", "box": [300, 480, 340, 520]},
            {"name": "damaged-checkbox", "type": "CHECKBOX", "box": [600, 480, 640, 520]},
        ],
    }


def write_delivery_templates(path: Path) -> Path:
    """Write a ``templates.json`` holding the delivery note's template."""
    doc = {"version": 1, "templates": [delivery_template_json()]}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


@cache
def delivery_note() -> bytes:
    """The filled delivery note (PNG), drawn from :func:`delivery_template_json`."""
    spec = delivery_template_json()
    canvas = PageCanvas(*_DELIVERY_PAGE, seed="q-delivery")
    title_font, label_font, value_font = (
        load_font("ko", 48),
        load_font("ko", 24),
        load_font("ko", 28),
    )
    t = spec["title"]["box"]
    canvas.line_center((t[0] + t[2]) / 2, t[1] + 10, DELIVERY_TITLE, title_font)
    canvas.rule(50, 130, 950, 130, width=3)
    for region in spec["regions"]:
        x0, y0, x1, y1 = region["box"]
        value = DELIVERY_VALUES[region["name"]]
        if region["type"] == "CHECKBOX":
            canvas.rect((x0, y0, x1, y1), width=3)
            canvas.line(x1 + 14, y0 + 4, _LABELS[region["name"]], label_font)
            if value:
                canvas.rule(x0 + 8, y0 + 8, x1 - 8, y1 - 8, width=4)
                canvas.rule(x0 + 8, y1 - 8, x1 - 8, y0 + 8, width=4)
            continue
        canvas.line(60, y0 + 12, _LABELS[region["name"]], label_font)
        if region["type"] == "MULTI_BOX":
            for ch, box in zip(str(value), region["boxes"], strict=True):
                canvas.rect(tuple(box))
                canvas.word(box[0] + 18, box[1] + 10, ch, value_font)
        else:
            for i, text in enumerate(str(value).split("\n")):
                canvas.line(x0 + 10, y0 + 10 + 44 * i, text, value_font)
    canvas.line(60, 600, "배송 기사 확인 후 서명합니다.", label_font)
    return _encode([canvas.image], "png")
