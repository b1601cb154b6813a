"""Short notices in Japanese and Traditional Chinese (zh-TW)."""

from __future__ import annotations

from clova_etl.samples.canvas import PageCanvas, truth_words
from clova_etl.samples.fonts import Script, load_font
from clova_etl.samples.model import BuiltSample
from clova_etl.samples.truth import DocumentTruth, TruthPage

# Words are separated by spaces so that each drawn word is one field, as CLOVA splits CJK text
# into short segments.
_JA = (
    "お知らせ",
    "いつも ご利用 いただき ありがとう ございます。",
    "4月1日 より 営業時間を 変更 いたします。",
    "平日 9:00 〜 18:00",
    "土曜 10:00 〜 15:00",
    "東京都 千代田区 丸の内 1-1-1",
    "株式会社 さくら商事",
)
_ZH_TW = (
    "公告",
    "親愛的 顧客 您好",
    "本店 將於 四月 一日 起 調整 營業 時間",
    "週一 至 週五 上午 九點 至 下午 六點",
    "臺北市 信義區 市府路 45號",
    "電話 (02) 2720-8889",
    "台灣 好物 股份有限公司",
)


def _notice(name: str, script: Script, lines: tuple[str, ...], lang: str) -> BuiltSample:
    width, height = 900, 200 + 64 * len(lines)
    page = PageCanvas(width, height, seed=name)
    heading, body = load_font(script, 48), load_font(script, 30)
    page.line_center(width / 2, 50, lines[0], heading)
    y = 150.0
    for line in lines[1:]:
        page.line(70, y, line, body)
        y += 60
    truth_page = TruthPage(width=width, height=height, words=truth_words(page.words))
    return BuiltSample([page.image], DocumentTruth(doc_id=name, lang=lang, pages=[truth_page]))


def notice_ja() -> BuiltSample:
    """A Japanese opening-hours notice."""
    return _notice("notice-ja", "ja", _JA, "ja")


def notice_zh_tw() -> BuiltSample:
    """A Traditional Chinese (zh-TW) opening-hours notice."""
    return _notice("notice-zh-tw", "zh-TW", _ZH_TW, "zh-TW")
