"""Multi-page samples: a 3-page Korean service contract (PDF) and a 2-page fax (TIFF)."""

from __future__ import annotations

from PIL import Image

from clova_etl.samples.canvas import PageCanvas, truth_words
from clova_etl.samples.fonts import Script, load_font
from clova_etl.samples.model import BuiltSample
from clova_etl.samples.truth import DocumentTruth, TruthPage

# A4 at 144 dpi: the PDF page is 595 x 842 pt, as in live responses' convertedImageInfo x2.
A4_144 = (1190, 1684)

_CONTRACT: tuple[tuple[str, ...], ...] = (
    (
        "# 용역 계약서",
        "",
        "계약번호 SC-2024-017",
        "갑 (주) 킹마트 대표이사 김민수",
        "을 한빛소프트 대표 이영희",
        "",
        "제1조 (목적) 본 계약은 갑이 을에게 의뢰한",
        "문서 처리 시스템 구축 용역에 관한 사항을 정한다.",
        "제2조 (기간) 2024년 4월 1일부터 2024년 9월 30일까지",
        "제3조 (대금) 총 금액은 48,000,000원 (부가세 별도)",
    ),
    (
        "제4조 (지급) 대금은 다음과 같이 지급한다.",
        "착수금 30% 14,400,000원 계약 후 14일 이내",
        "중도금 40% 19,200,000원 중간 검수 후",
        "잔금 30% 14,400,000원 최종 검수 후",
        "",
        "제5조 (비밀유지) 을은 업무상 알게 된 정보를",
        "계약 종료 후에도 제3자에게 누설하지 않는다.",
        "제6조 (해지) 당사자 일방이 계약을 위반한 경우",
        "상대방은 서면 통지로 계약을 해지할 수 있다.",
    ),
    (
        "제7조 (분쟁) 본 계약에 관한 분쟁은",
        "서울중앙지방법원을 관할 법원으로 한다.",
        "",
        "2024년 3월 20일",
        "",
        "갑 (주) 킹마트 서울특별시 강남구 테헤란로 123",
        "대표이사 김민수 (인)",
        "을 한빛소프트 서울특별시 마포구 월드컵로 45",
        "대표 이영희 (인)",
    ),
)

_FAX: tuple[tuple[str, ...], ...] = (
    (
        "# FAX 팩스",
        "",
        "To: 한빛상사 구매팀",
        "From: Corner Grocery Purchasing",
        "Date: 2024-03-18",
        "Pages: 2 (including cover)",
        "",
        "Re: 3월 발주 확인 요청",
        "Please confirm the order on the next page.",
    ),
    (
        "# ORDER 발주서",
        "",
        "Order No. PO-7781",
        "1. 생수 2L x 120 boxes",
        "2. 커피 원두 1kg x 40",
        "3. A4 paper x 60 reams",
        "",
        "Delivery by 2024-03-25",
        "Signed J. Park",
    ),
)


def _text_pages(
    name: str, pages_text: tuple[tuple[str, ...], ...], size: tuple[int, int], script: Script
) -> list[PageCanvas]:
    pages = []
    heading, body = load_font(script, 48), load_font(script, 30)
    for index, lines in enumerate(pages_text):
        page = PageCanvas(size[0], size[1], seed=f"{name}:{index}")
        y = 110.0
        for line in lines:
            if not line:
                y += 36
            elif line.startswith("# "):
                page.line_center(size[0] / 2, y, line[2:], heading)
                y += 100
            else:
                page.line(110, y, line, body)
                y += 58
        page.line_center(size[0] / 2, size[1] - 90, f"- {index + 1} / {len(pages_text)} -", body)
        pages.append(page)
    return pages


def _built(name: str, pages: list[PageCanvas], lang: str, mode: str = "RGB") -> BuiltSample:
    truth = DocumentTruth(
        doc_id=name,
        lang=lang,
        pages=[
            TruthPage(width=p.width, height=p.height, words=truth_words(p.words)) for p in pages
        ],
    )
    images: list[Image.Image] = [p.image.convert(mode) for p in pages]
    return BuiltSample(images, truth)


def contract_3p() -> BuiltSample:
    """A 3-page Korean service contract (rendered at 144 dpi, saved as PDF)."""
    return _built("contract-3p", _text_pages("contract-3p", _CONTRACT, A4_144, "ko"), "ko")


def fax_2p() -> BuiltSample:
    """A 2-page grey-scale fax (cover + order), saved as a multi-page TIFF."""
    pages = _text_pages("fax-2p", _FAX, (1000, 1300), "ko")
    return _built("fax-2p", pages, "ko", mode="L")
