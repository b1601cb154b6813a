"""Reading order, line breaks, Hangul joining and language models (no tesseract needed)."""

from __future__ import annotations

import pytest

from clova_etl.server.tesseract import OcrWord, tesseract_langs
from clova_etl.server.tesseract.words import (
    drop_ghosts,
    join_syllables,
    new_words,
    page_fields,
    reading_rows,
)


def _w(
    text: str,
    x: int,
    y: int,
    w: int = 40,
    h: int = 24,
    *,
    line: int = 1,
    block: int = 1,
    conf: float = 0.9,
) -> OcrWord:
    return OcrWord(text, x, y, w, h, conf, block=block, paragraph=1, line=line)


def test_side_by_side_lines_are_one_row() -> None:
    """A receipt row that tesseract reports as three blocks is one row, left to right."""
    words = [
        _w("2,980", 520, 102, block=3),
        _w("Milk", 40, 100, block=1),
        _w("1L", 90, 101, block=1),
        _w("Total", 40, 160, block=1, line=2),
        _w("1", 400, 99, block=2),
        _w("2,980", 520, 161, block=3, line=2),
    ]
    fields = page_fields(words)
    assert [f["inferText"] for f in fields] == ["Milk", "1L", "1", "2,980", "Total", "2,980"]
    assert [f["lineBreak"] for f in fields] == [False, False, False, True, False, True]
    assert fields[0]["boundingPoly"]["vertices"][0] == {"x": 40.0, "y": 100.0}
    assert fields[0]["inferConfidence"] == 0.9


def test_stacked_lines_keep_their_order_even_when_overlapping_columns() -> None:
    words = [_w("second", 40, 140, line=2), _w("first", 40, 100), _w("third", 40, 180, line=3)]
    assert [[w.text for w in row] for row in reading_rows(words)] == [
        ["first"],
        ["second"],
        ["third"],
    ]


def test_hangul_syllables_split_by_tesseract_are_joined() -> None:
    words = [
        _w("서", 100, 100, 20),
        _w("울", 121, 100, 20),  # 1 px apart: one word
        _w("특별시", 142, 100, 60),
        _w("중구", 214, 100, 40),  # a space (12 px = 0.5 x height): a new word
        _w("No", 262, 100, 30),
        _w("12", 293, 100, 20),  # Latin and digits are never joined
    ]
    joined = join_syllables(words)
    assert [w.text for w in joined] == ["서울특별시", "중구", "No", "12"]
    assert (joined[0].left, joined[0].right) == (100, 202)


def test_second_pass_words_on_known_ink_are_dropped() -> None:
    known = [_w("라떼", 100, 100, 50)]
    found = [_w("떼", 130, 100, 20, block=10_000), _w("5,000", 400, 100, 60, block=10_001)]
    assert [w.text for w in new_words(found, known)] == ["5,000"]


def test_ghost_line_over_a_title_is_dropped() -> None:
    words = [
        _w("허그", 400, 75, 90, 24, line=1, conf=0.58),
        _w("보험금", 352, 75, 133, 48, line=2, conf=0.96),
        _w("청구서", 507, 75, 134, 48, line=2, conf=0.83),
        _w("겹침", 640, 75, 30, 48, line=2, conf=0.5),  # overlaps its own line: kept
    ]
    assert [w.text for w in drop_ghosts(words)] == ["보험금", "청구서", "겹침"]


@pytest.mark.parametrize(
    ("lang", "models"),
    [
        ((), "kor+eng"),
        (("ko",), "kor+eng"),
        (("ja",), "jpn+eng"),
        (("zh-TW",), "chi_tra+eng"),
        (("ko", "ja"), "kor+jpn+eng"),
        (("ja", "ko", "ja"), "jpn+kor+eng"),
    ],
)
def test_request_lang_to_models(lang: tuple[str, ...], models: str) -> None:
    assert tesseract_langs(lang) == models


def test_unknown_lang_is_refused() -> None:
    with pytest.raises(ValueError, match="no tesseract model for lang 'fr'"):
        tesseract_langs(("fr",))
