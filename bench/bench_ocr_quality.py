"""Recognition quality and speed of the ``tesseract`` engine, per language.

    python -m bench.bench_ocr_quality            # print the figures
    python -m bench.bench_ocr_quality --write    # and replace the section in bench/RESULTS.md

Every document of ``tests/ocr_quality/corpus.py`` (drawn with known text, no truth embedded) is
sent over HTTP to a local server running the tesseract engine, as the client would send it;
the answer is scored with ``tests/ocr_quality/metrics.py`` (CER, word accuracy, table-cell
accuracy) and each call is timed (seconds per page = call time / pages). The template document
is scored on its fields. Run on an idle machine: tesseract is CPU-bound.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.results import replace_marked

SECRET = "bench-secret"


@dataclass
class LanguageFigures:
    """Totals of one language."""

    chars: int = 0
    char_errors: int = 0
    words: int = 0
    words_ok: int = 0
    pages: int = 0
    seconds: float = 0.0
    docs: list[str] = field(default_factory=list)


def _post(client: httpx.Client, url: str, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    response = client.post(url, json=body, headers={"X-OCR-SECRET": SECRET})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result, elapsed


def _message(fmt: str, data: bytes, **extra: Any) -> dict[str, Any]:
    image: dict[str, Any] = {
        "format": fmt,
        "name": "bench",
        "data": base64.b64encode(data).decode(),
    }
    if "templateIds" in extra:
        image["templateIds"] = extra.pop("templateIds")
    return {"version": "V2", "requestId": "bench", "timestamp": 0, "images": [image], **extra}


def measure(rounds: int) -> dict[str, Any]:
    """Send the corpus ``rounds`` times; figures per language, per document and for tables."""
    from clova_etl.server import ServerConfig, start_background
    from clova_etl.server.tesseract import TesseractEngine, parse_templates
    from tests.ocr_quality.corpus import (
        DELIVERY_ID,
        DELIVERY_NAME,
        DELIVERY_VALUES,
        GENERAL_DOCS,
        delivery_note,
        delivery_template_json,
        general_doc,
    )
    from tests.ocr_quality.metrics import TextScore, score_cells, score_page, squash

    load = os.getloadavg()[0]
    engine = TesseractEngine(parse_templates({"templates": [delivery_template_json()]}))
    config = ServerConfig(
        port=0, secret=SECRET, engine="tesseract", templates={DELIVERY_ID: DELIVERY_NAME}
    )
    per_lang: dict[str, LanguageFigures] = {}
    per_doc: list[dict[str, Any]] = []
    tables: dict[str, Any] = {}
    template: dict[str, Any] = {}
    with start_background(config, engine) as server, httpx.Client(timeout=300) as client:
        for name in GENERAL_DOCS:
            doc = general_doc(name)
            extra: dict[str, Any] = {"lang": ",".join(doc.lang)} if doc.lang else {}
            if doc.table_detection:
                extra["enableTableDetection"] = True
            times = []
            for _ in range(rounds):
                body, elapsed = _post(
                    client, server.invoke_url(), _message(doc.format, doc.data, **extra)
                )
                times.append(elapsed)
            images = body["images"]
            score = TextScore()
            for page, image in zip(doc.pages, images, strict=True):
                score = score + score_page(page, image["fields"])
            seconds = min(times) / len(doc.pages)
            figures = per_lang.setdefault(doc.language, LanguageFigures())
            figures.chars += score.chars
            figures.char_errors += score.char_errors
            figures.words += score.words
            figures.words_ok += score.words_ok
            figures.pages += len(doc.pages)
            figures.seconds += min(times)
            figures.docs.append(name)
            per_doc.append(
                {
                    "doc": name,
                    "language": doc.language,
                    "format": doc.format,
                    "pages": len(doc.pages),
                    "cer": score.cer,
                    "word_accuracy": score.word_accuracy,
                    "seconds_per_page": seconds,
                }
            )
            if doc.table_detection:
                truth_cells = [c for p in doc.pages for c in p.cells]
                cells = score_cells(truth_cells, images[0].get("tables", []))
                tables[name] = {
                    "cells": cells.cells,
                    "structure": cells.structure_accuracy,
                    "accuracy": cells.accuracy,
                }
        times = []
        for _ in range(rounds):
            body, elapsed = _post(
                client, server.invoke_url("template"), _message("png", delivery_note())
            )
            times.append(elapsed)
        image = body["images"][0]
        fields = {f["name"]: f for f in image.get("fields", [])}
        ok = 0
        for key, value in DELIVERY_VALUES.items():
            got = fields.get(key, {})
            if isinstance(value, bool):
                ok += got.get("checked") is value
            else:
                ok += squash(got.get("inferText", "")) == squash(value)
        template = {
            "matched": (image.get("matchedTemplate") or {}).get("id") == DELIVERY_ID,
            "title": image.get("title", {}).get("inferText", ""),
            "fields_ok": ok,
            "fields": len(DELIVERY_VALUES),
            "seconds_per_page": min(times),
        }
    return {
        "languages": per_lang,
        "docs": per_doc,
        "tables": tables,
        "template": template,
        "load": load,
    }


def _tesseract_version() -> str:
    import pytesseract

    return str(pytesseract.get_tesseract_version()).split()[0]


def render(result: dict[str, Any], rounds: int) -> str:
    """The RESULTS.md section."""
    langs: dict[str, LanguageFigures] = result["languages"]
    lines = [
        "## OCR quality (bench/bench_ocr_quality.py)",
        "",
        f"Engine `tesseract` {_tesseract_version()} (Debian models kor, jpn, chi_tra, eng; page "
        "pass psm 6 + second pass over unread ink, single-threaded), through the local server "
        f"over HTTP. Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, load "
        f"average {result['load']:.1f} when started (other work was running: seconds are "
        f"pessimistic); time = best of {rounds} call(s).",
        "",
        "Documents: `tests/ocr_quality/corpus.py`, drawn with Noto Sans CJK / DejaVu Sans at "
        "24-44 px; the `-scan` ones turned 0.7-1°, blurred, with grain, saved as JPEG 70-75. "
        "CER and word accuracy as defined in `tests/ocr_quality/metrics.py` (words matched by "
        "place, NFKC; CER ignores spaces; word accuracy does not, and Japanese/Chinese word "
        "splits are tesseract's). `tests/ocr_quality/test_recognition.py` asserts per-document "
        "limits a little worse than these figures.",
        "",
        "| language | documents | pages | characters | CER | word accuracy | s/page |",
        "|---|---|---|---|---|---|---|",
    ]
    for lang, f in langs.items():
        lines.append(
            f"| {lang} | {', '.join(f.docs)} | {f.pages} | {f.chars} | "
            f"{f.char_errors / f.chars:.3f} | {f.words_ok / f.words:.3f} | "
            f"{f.seconds / f.pages:.2f} |"
        )
    lines += [
        "",
        "| document | language | format | pages | CER | word accuracy | s/page |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in result["docs"]:
        lines.append(
            f"| {d['doc']} | {d['language']} | {d['format']} | {d['pages']} | {d['cer']:.3f} | "
            f"{d['word_accuracy']:.3f} | {d['seconds_per_page']:.2f} |"
        )
    lines += ["", "| table | cells | structure (row, col, spans) | cell accuracy (text too) |"]
    lines.append("|---|---|---|---|")
    for name, t in result["tables"].items():
        lines.append(f"| {name} | {t['cells']} | {t['structure']:.3f} | {t['accuracy']:.3f} |")
    t = result["template"]
    lines += [
        "",
        f"Template OCR (delivery note, template 2001): matched {t['matched']}, title "
        f"{t['title']!r}, {t['fields_ok']}/{t['fields']} fields exact (text or checkbox), "
        f"{t['seconds_per_page']:.2f} s/page.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="calls per document (best kept)")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args(argv)
    from clova_etl.server.tesseract import tesseract_problem

    problem = tesseract_problem()
    if problem is not None:
        print(f"bench_ocr_quality: {problem}", file=sys.stderr)
        return 2
    result = measure(args.rounds)
    text = render(result, args.rounds)
    print(text)
    if args.write:
        replace_marked("ocr-quality", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
