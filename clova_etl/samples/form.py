"""The claim form drawn from the ``claim-form`` template (id 1001): NORMAL, MULTI_BOX and
CHECKBOX fields and a title, filled in."""

from __future__ import annotations

from clova_etl.samples.canvas import (
    Box,
    PageCanvas,
    box_quad,
    sub_fields,
    template_field,
    truth_words,
)
from clova_etl.samples.fonts import load_font
from clova_etl.samples.model import BuiltSample
from clova_etl.samples.templates import CLAIM_FORM, Region, TemplateDefinition
from clova_etl.samples.truth import DocumentTruth, TemplateRef, TruthField, TruthPage

# What is written in each region of the form.
CLAIM_VALUES: dict[str, str | bool] = {
    "title": CLAIM_FORM.title_text or "",
    "name": "홍길동",
    "claim-no": "102831",
    "address": "서울특별시 중구 세종대로 110\n시청별관 3층 301호",
    "amount": "1,250,000",
    "fax-checkbox": True,
    "email-checkbox": False,
}
_LABELS: dict[str, str] = {
    "name": "성명",
    "claim-no": "청구번호",
    "address": "주소",
    "amount": "청구금액",
    "fax-checkbox": "팩스 수신",
    "email-checkbox": "이메일 수신",
}


def _region(template: TemplateDefinition, name: str) -> Region:
    return next(r for r in template.regions if r.name == name)


def claim_form(template: TemplateDefinition = CLAIM_FORM) -> BuiltSample:
    """The filled claim form; its truth has the template's title and fields."""
    page = PageCanvas(template.width, template.height, seed="claim-form")
    title_font, label_font, value_font = (
        load_font("ko", 52),
        load_font("ko", 26),
        load_font("ko", 30),
    )
    t = template.title.box
    title_words = page.line_center(
        (t[0] + t[2]) / 2, t[1] + 8, str(CLAIM_VALUES["title"]), title_font
    )
    title = TruthField(
        name="title",
        text=str(CLAIM_VALUES["title"]),
        quad=box_quad(t),
        confidence=round(sum(w.confidence for w in title_words) / len(title_words), 4),
        sub_fields=sub_fields(title_words),
    )
    page.rule(60, t[3] + 30, template.width - 60, t[3] + 30, width=3)

    fields: list[TruthField] = []
    for region in template.regions:
        box: Box = region.box
        if region.type == "CHECKBOX":
            page.line(box[2] + 14, box[1] + 6, _LABELS[region.name], label_font)
        else:
            page.line(80, box[1] + 14, _LABELS[region.name], label_font, line_break=False)
        value = CLAIM_VALUES[region.name]
        if region.type == "CHECKBOX":
            fields.append(_checkbox(page, region, bool(value)))
        elif region.type == "MULTI_BOX":
            digits = []
            for ch, cell in zip(str(value), region.boxes(), strict=True):
                page.rect(cell)
                w = page.word(cell[0] + 18, cell[1] + 12, ch, value_font)
                digits.append(w)
            digits[-1].line_break = True
            field = template_field(
                region.name, box, digits, value_type=region.value_type, multi_box=True
            )
            # A box's sub-field is the box itself, as the service reports MULTI_BOX parts.
            field = field.model_copy(
                update={
                    "sub_fields": [
                        s.model_copy(update={"quad": box_quad(cell), "line_break": False})
                        for s, cell in zip(field.sub_fields, region.boxes(), strict=True)
                    ]
                }
            )
            fields.append(field)
        else:
            page.draw.line([(box[0], box[3]), (box[2], box[3])], fill=(120, 120, 120), width=1)
            words = []
            for i, text in enumerate(str(value).split("\n")):
                words += page.line(box[0] + 10, box[1] + 12 + 44 * i, text, value_font)
            fields.append(template_field(region.name, box, words, value_type=region.value_type))
    page.line(80, 820, "위 내용이 사실과 다름없음을 확인합니다.", label_font)
    page.line(80, 880, "2024년 3월 15일 청구인 홍길동 (인)", label_font)
    truth_page = TruthPage(
        width=template.width,
        height=template.height,
        words=truth_words(page.words),
        title=title,
        fields=fields,
    )
    truth = DocumentTruth(
        doc_id="claim-form",
        template=TemplateRef(id=template.id, name=template.name),
        pages=[truth_page],
    )
    return BuiltSample([page.image], truth)


def _checkbox(page: PageCanvas, region: Region, checked: bool) -> TruthField:
    box = region.box
    page.rect(box, width=3)
    if checked:
        pad = 8
        page.rule(box[0] + pad, box[1] + pad, box[2] - pad, box[3] - pad, width=4)
        page.rule(box[0] + pad, box[3] - pad, box[2] - pad, box[1] + pad, width=4)
    return TruthField(
        name=region.name,
        value_type=region.value_type,
        type="CHECKBOX",
        text="",
        quad=box_quad(box),
        confidence=page.confidence(),
        checked=checked,
    )
