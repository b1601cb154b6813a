"""Generate a corpus of realistic, large CLOVA OCR responses wrapped in raw-store envelopes.

    python -m bench.gen_responses --out bench/out/corpus-300 --mb 300

Mix (by document): dense General V2 pages (300-1500 fields with lineBreak, some skewed or
rotated quads), General pages with detected tables (50-400 cells, every table word also a
field), multi-page PDFs (2-8 pages with convertedImageInfo), Template V2 forms (title with
subFields, MULTI_BOX, multi-line and CHECKBOX fields) and a few V1 Template forms (``bounding``).
Coordinates and confidences are written as floats or integers, as the live service does.

A pool of distinct responses is generated once; files reuse them with their own request_id,
uid and source, written compactly on one line like the raw store. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import uuid
from pathlib import Path
from typing import Any

import orjson

WORDS = (  # noqa: SIM905 - a sentence of words reads better than a list literal
    "가격 합계 부가세 카드 승인 번호 영수증 상품명 수량 단가 금액 결제 일시 주소 대표자 사업자 "
    "등록번호 전화 서울특별시 강남구 테헤란로 처방전 약품명 투약량 횟수 일수 보험 청구서 성명 "
    "주민등록번호 계좌 은행 입금 계약서 갑 을 제1조 목적 기간 해지 the of and total amount "
    "invoice date customer number tax paid balance due page report section table figure "
    "2024-05-12 12,500 3,000 1 2 10 100 (주) 킹마트 KBO 리그 규정 변경 요약사항 ABS 시스템"
).split()


def _num(rng: random.Random, value: float, as_int: bool) -> float | int:
    return round(value) if as_int else round(value, 4)


def _quad(
    rng: random.Random, x: float, y: float, w: float, h: float, as_int: bool
) -> dict[str, Any]:
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    roll = rng.random()
    if roll < 0.15:
        # Skewed quad (photographed receipt).
        dy = rng.uniform(-3, 3)
        corners = [
            (cx + rng.uniform(-1, 1), cy + (dy if i in (1, 2) else 0))
            for i, (cx, cy) in enumerate(corners)
        ]
    elif roll < 0.18:
        # Vertical text: vertices do not start top-left.
        corners = corners[3:] + corners[:3]
    return {
        "vertices": [{"x": _num(rng, cx, as_int), "y": _num(rng, cy, as_int)} for cx, cy in corners]
    }


def _conf(rng: random.Random) -> float | int:
    return 1 if rng.random() < 0.02 else round(rng.uniform(0.6, 1.0), rng.choice((4, 8)))


def _word(rng: random.Random) -> str:
    return rng.choice(WORDS)


def general_fields(
    rng: random.Random, n: int, width: int, height: int, as_int: bool
) -> list[dict[str, Any]]:
    """``n`` General V2 fields laid out in lines (lineBreak at each line end)."""
    fields: list[dict[str, Any]] = []
    x, y = 20.0, 20.0
    line_h = max(8.0, (height - 40) / max(1, n / 12))
    while len(fields) < n:
        text = _word(rng)
        w = 8.0 * len(text) + rng.uniform(4, 20)
        last = x + w > width - 20 or rng.random() < 0.08
        fields.append(
            {
                "valueType": "ALL",
                "boundingPoly": _quad(rng, x, y, w, line_h * 0.8, as_int),
                "inferText": text,
                "inferConfidence": _conf(rng),
                "type": "NORMAL",
                "lineBreak": last,
            }
        )
        x += w + 6
        if last:
            x, y = 20.0, y + line_h
    return fields


def table(
    rng: random.Random, cells: int, x0: float, y0: float, as_int: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A table of about ``cells`` cells, and the fields that repeat its words."""
    cols = rng.randint(3, 8)
    rows = max(1, cells // cols)
    cw, ch = 110.0, 34.0
    out_cells, fields = [], []
    for r in range(rows):
        for c in range(cols):
            span = 2 if rng.random() < 0.04 and r + 1 < rows else 1
            lines = []
            for li in range(rng.choice((0, 1, 1, 1, 2, 2, 3))):
                words = []
                wx = x0 + c * cw + 4
                wy = y0 + r * ch + 3 + li * 10
                for _ in range(rng.randint(1, 3)):
                    text = _word(rng)
                    ww = 7.0 * len(text) + 4
                    poly = _quad(rng, wx, wy, ww, 9, as_int)
                    conf = _conf(rng)
                    words.append({"inferText": text, "boundingPoly": poly, "inferConfidence": conf})
                    fields.append(
                        {
                            "valueType": "ALL",
                            "boundingPoly": poly,
                            "inferText": text,
                            "inferConfidence": conf,
                            "type": "NORMAL",
                            "lineBreak": False,
                        }
                    )
                    wx += ww + 3
                fields[-1]["lineBreak"] = True
                lines.append(
                    {
                        "cellWords": words,
                        "boundingPoly": _quad(rng, x0 + c * cw, wy, cw, 9, as_int),
                        "inferConfidence": _conf(rng),
                    }
                )
            out_cells.append(
                {
                    "cellTextLines": lines,
                    "boundingPoly": _quad(rng, x0 + c * cw, y0 + r * ch, cw, ch * span, as_int),
                    "inferConfidence": 1.0 if not lines else _conf(rng),
                    "rowSpan": span,
                    "rowIndex": r,
                    "columnSpan": 1,
                    "columnIndex": c,
                }
            )
    box = _quad(rng, x0, y0, cols * cw, rows * ch, as_int)
    return {"cells": out_cells, "boundingPoly": box, "inferConfidence": _conf(rng)}, fields


def _image(rng: random.Random, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "uid": uuid.UUID(int=rng.getrandbits(128)).hex,
        "name": name,
        "inferResult": "SUCCESS",
        "message": "SUCCESS",
        "validationResult": {"result": "NO_REQUESTED"},
        **extra,
    }


def dense_page(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    as_int = rng.random() < 0.3
    image = _image(
        rng, "page", fields=general_fields(rng, rng.randint(300, 1500), 1240, 1754, as_int)
    )
    return {
        "version": "V2",
        "requestId": "string",
        "timestamp": 1_700_000_000_000,
        "images": [image],
    }, {"api": "general", "format": "jpg", "pages": 1}


def table_page(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    as_int = rng.random() < 0.3
    fields = general_fields(rng, rng.randint(40, 200), 1240, 300, as_int)
    tables = []
    y = 320.0
    for _ in range(rng.choice((1, 1, 2))):
        t, tf = table(rng, rng.randint(50, 400), 40.0, y, as_int)
        tables.append(t)
        fields += tf
        y += 34.0 * (len(t["cells"]) // 3 + 2)
    image = _image(
        rng,
        "table",
        convertedImageInfo={"width": 1240, "height": 1754, "pageIndex": 0, "longImage": False},
        fields=fields,
        tables=tables,
    )
    return {
        "version": "V2",
        "requestId": "demo",
        "timestamp": 1_723_455_986_947,
        "images": [image],
    }, {"api": "general", "format": "pdf", "pages": 1, "tables": True}


def pdf(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    pages = rng.randint(2, 8)
    as_int = rng.random() < 0.3
    images = [
        _image(
            rng,
            "doc",
            convertedImageInfo={"width": 1240, "height": 1754, "pageIndex": p},
            fields=general_fields(rng, rng.randint(300, 800), 1240, 1754, as_int),
        )
        for p in range(pages)
    ]
    return {
        "version": "V2",
        "requestId": str(uuid.UUID(int=rng.getrandbits(128))),
        "timestamp": 1_700_000_000_000,
        "images": images,
    }, {"api": "general", "format": "pdf", "pages": pages}


def template_form(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    def sub(x: float, y: float, text: str, lb: bool) -> dict[str, Any]:
        return {
            "boundingPoly": _quad(rng, x, y, 8.0 * len(text) + 4, 14, False),
            "inferText": text,
            "inferConfidence": _conf(rng),
            "lineBreak": lb,
        }

    fields: list[dict[str, Any]] = []
    for i in range(rng.randint(10, 40)):
        kind = rng.random()
        x, y = 40.0 + (i % 3) * 380, 120.0 + (i // 3) * 60
        if kind < 0.15:
            fields.append(
                {
                    "name": f"check {i}",
                    "valueType": "ALL",
                    "boundingPoly": _quad(rng, x, y, 20, 20, False),
                    "inferText": "",
                    "inferConfidence": _conf(rng),
                    "type": "CHECKBOX",
                    "checked": rng.random() < 0.5,
                }
            )
            continue
        n_sub = rng.randint(1, 12)
        subs = [sub(x + 30 * k, y + 16 * (k // 4), _word(rng), k % 4 == 3) for k in range(n_sub)]
        text = "".join(s["inferText"] + ("\n" if s["lineBreak"] else " ") for s in subs).strip()
        fields.append(
            {
                "name": f"field {i}",
                "valueType": rng.choice(("ALL", "NUMERIC")),
                "boundingPoly": _quad(rng, x, y, 360, 50, False),
                "inferText": text,
                "inferConfidence": _conf(rng),
                "type": "MULTI_BOX" if kind < 0.3 else "NORMAL",
                "subFields": subs,
            }
        )
    title_sub = [sub(500, 20, "청구서", True)]
    image = _image(
        rng,
        "form",
        matchedTemplate={"id": rng.randint(1000, 30000), "name": "claim"},
        convertedImageInfo={"width": 1240, "height": 1754, "pageIndex": 0},
        title={
            "name": "title",
            "boundingPoly": title_sub[0]["boundingPoly"],
            "inferText": "청구서",
            "inferConfidence": _conf(rng),
            "subFields": title_sub,
        },
        fields=fields,
    )
    return {
        "version": "V2",
        "requestId": "string",
        "timestamp": 1_686_000_000_000,
        "images": [image],
    }, {"api": "template", "format": "pdf", "pages": 1, "template": True}


def v1_template(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = [
        {
            "name": f"f{i}",
            "bounding": {"top": 100.0 + 30 * i, "left": 50.5, "width": 300.25, "height": 24.0},
            "valueType": "ALL",
            "inferText": _word(rng),
            "inferConfidence": _conf(rng),
        }
        for i in range(rng.randint(5, 30))
    ]
    image = _image(
        rng,
        "sample",
        matchedTemplate={"id": 444, "name": "v1"},
        title={
            "name": "t",
            "bounding": {"top": 10.0, "left": 20.0, "width": 200.0, "height": 40.0},
            "inferText": "제목",
            "inferConfidence": _conf(rng),
        },
        fields=fields,
    )
    return {
        "version": "V1",
        "requestId": "sample_id",
        "timestamp": 1_576_748_247_494,
        "images": [image],
    }, {"api": "template", "format": "jpg", "pages": 1, "template": True}


KINDS = ((dense_page, 40), (table_page, 25), (pdf, 20), (template_form, 13), (v1_template, 2))


def pool(seed: int, size: int) -> list[tuple[bytes, dict[str, Any]]]:
    """``size`` distinct responses (compact JSON) with what their envelope must say."""
    rng = random.Random(seed)
    makers = [k for k, w in KINDS for _ in range(w)]
    out = []
    for _ in range(size):
        body, meta = rng.choice(makers)(rng)
        out.append((orjson.dumps(body), meta))
    return out


def envelope(number: int, body: bytes, meta: dict[str, Any]) -> bytes:
    """A raw-store envelope around ``body``, on one line."""
    sha = hashlib.sha256(b"bench-source-%d" % number).hexdigest()
    rid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{number}"))
    pages = meta["pages"]
    head = {
        "clova_etl_envelope": 1,
        "request_id": rid,
        "source": {
            "uri": f"s3://bench/inbox/doc-{number:07d}.{meta['format']}",
            "sha256": sha,
            "size_bytes": 100_000 + number,
            "format": meta["format"],
            "last_modified": "2025-06-01T00:00:00Z",
        },
        "options": {
            "api": meta["api"],
            "version": "V2",
            "lang": "ko",
            "template_ids": [25072] if meta.get("template") else None,
            "enable_table_detection": bool(meta.get("tables")),
            "page_start": 1,
            "page_end": pages,
        },
        "call": {
            "status": "succeeded",
            "http_status": 200,
            "error_code": None,
            "error_message": None,
            "attempts": 1,
            "billable": True,
            "billable_pages": pages,
            "pages_sent": pages,
            "requested_at": "2025-06-01T00:00:01.250000Z",
            "completed_at": "2025-06-01T00:00:02.500000Z",
            "duration_ms": 1250,
            "run_id": "bench",
        },
    }
    return orjson.dumps(head)[:-1] + b',"response":' + body + b"}\n"


def generate(out: Path, megabytes: float, *, seed: int = 0, pool_size: int = 64) -> int:
    """Write envelopes under ``out`` until ``megabytes`` are reached; returns the file count."""
    out.mkdir(parents=True, exist_ok=True)
    bodies = pool(seed, pool_size)
    target = int(megabytes * 1_000_000)
    written = number = 0
    while written < target:
        body, meta = bodies[number % len(bodies)]
        data = envelope(number, body, meta)
        folder = out / f"{number // 1000:04d}"
        folder.mkdir(exist_ok=True)
        (folder / f"{number:07d}.json").write_bytes(data)
        written += len(data)
        number += 1
    return number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--mb", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool", type=int, default=64)
    args = parser.parse_args()
    files = generate(args.out, args.mb, seed=args.seed, pool_size=args.pool)
    print(f"{files} files, {args.mb} MB -> {args.out}")


if __name__ == "__main__":
    main()
