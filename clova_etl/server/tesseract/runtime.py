"""The tesseract binary: availability, language models, and one recognition call.

Everything that talks to the ``tesseract`` process goes through :func:`recognize_words`; the
other modules only see :class:`OcrWord` lists.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from PIL import Image

# Request ``lang`` (the API's codes) → tesseract model names.
LANG_MODELS: dict[str, str] = {"ko": "kor", "ja": "jpn", "zh-TW": "chi_tra"}
# Latin letters and digits appear in documents of every language: always add English.
LATIN_MODEL = "eng"
# What a request without ``lang`` gets: the domain default of a Korean CLOVA domain.
DEFAULT_LANGS: tuple[str, ...] = ("ko",)
REQUIRED_MODELS: tuple[str, ...] = ("eng", "kor", "jpn", "chi_tra")
INSTALL_HINT = (
    "install the Debian packages tesseract-ocr tesseract-ocr-eng tesseract-ocr-kor "
    "tesseract-ocr-jpn tesseract-ocr-chi-tra (the project's .ci/setup does) and the Python "
    "package pytesseract (pip install 'clova-etl[ocr]')"
)
# Seconds one tesseract call may take before it is abandoned (a page normally needs ~1 s).
CALL_TIMEOUT = 120


class TesseractUnavailableError(RuntimeError):
    """The tesseract engine cannot run here: the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class OcrWord:
    """One word tesseract read: text, pixel box, confidence 0..1 and its place in the layout."""

    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float
    block: int = 0
    paragraph: int = 0
    line: int = 0

    @property
    def right(self) -> int:
        """Right edge (exclusive)."""
        return self.left + self.width

    @property
    def bottom(self) -> int:
        """Bottom edge (exclusive)."""
        return self.top + self.height

    @property
    def center(self) -> tuple[float, float]:
        """Centre point."""
        return (self.left + self.width / 2, self.top + self.height / 2)

    def moved(self, dx: int, dy: int) -> OcrWord:
        """The same word with its box moved (crop coordinates back to page coordinates)."""
        return OcrWord(
            self.text,
            self.left + dx,
            self.top + dy,
            self.width,
            self.height,
            self.confidence,
            self.block,
            self.paragraph,
            self.line,
        )


def tesseract_langs(lang: Iterable[str]) -> str:
    """The ``-l`` argument for a request's ``lang`` codes (in order, English always last)."""
    models: list[str] = []
    for code in tuple(lang) or DEFAULT_LANGS:
        model = LANG_MODELS.get(code)
        if model is None:
            raise ValueError(f"no tesseract model for lang {code!r} (known: {sorted(LANG_MODELS)})")
        if model not in models:
            models.append(model)
    models.append(LATIN_MODEL)
    return "+".join(models)


@cache
def _check() -> str | None:
    """Why the engine cannot run, or None when it can (probed once per process)."""
    try:
        import pytesseract
    except ImportError:
        return f"the Python package pytesseract is not installed; {INSTALL_HINT}"
    if shutil.which(str(pytesseract.pytesseract.tesseract_cmd)) is None:
        return f"the tesseract binary is not on PATH; {INSTALL_HINT}"
    try:
        version = pytesseract.get_tesseract_version()
        installed = set(pytesseract.get_languages(config=""))
    except (OSError, RuntimeError, pytesseract.TesseractError) as exc:
        return f"the tesseract binary does not run ({exc}); {INSTALL_HINT}"
    if version.major < 4:
        return f"tesseract {version} is too old (4 or later has the LSTM models); {INSTALL_HINT}"
    missing = [m for m in REQUIRED_MODELS if m not in installed]
    if missing:
        return f"tesseract language data missing: {', '.join(missing)}; {INSTALL_HINT}"
    return None


def tesseract_problem() -> str | None:
    """What prevents the tesseract engine from running here, or None when it can run."""
    return _check()


def tesseract_available() -> bool:
    """Whether the tesseract engine can run here (binary, language data and pytesseract)."""
    return _check() is None


def require_tesseract() -> None:
    """Raise :class:`TesseractUnavailableError` naming what is missing, if anything."""
    problem = _check()
    if problem is not None:
        raise TesseractUnavailableError(f"OCR engine 'tesseract' is unavailable: {problem}")


def limit_threads() -> None:
    """Run tesseract single-threaded unless the user said otherwise.

    Tesseract's OpenMP threads make a page 2-3x *slower* on a small machine when several pages
    are recognised at once (measured: 2.8 s → 1.0 s per page on 2 cores); the server already
    runs pages in parallel worker threads. pytesseract hands ``os.environ`` to the process.
    """
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def recognize_words(
    image: Image.Image, langs: str, *, psm: int = 3, config: str = ""
) -> list[OcrWord]:
    """The words tesseract reads in ``image`` (empty and whitespace-only entries dropped)."""
    import pytesseract

    data: dict[str, list[Any]] = pytesseract.image_to_data(
        image,
        lang=langs,
        config=f"--psm {psm} {config}".strip(),
        output_type=pytesseract.Output.DICT,
        timeout=CALL_TIMEOUT,
    )
    words: list[OcrWord] = []
    for i, text in enumerate(data["text"]):
        text = str(text).strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        words.append(
            OcrWord(
                text=text,
                left=int(data["left"][i]),
                top=int(data["top"][i]),
                width=int(data["width"][i]),
                height=int(data["height"][i]),
                confidence=min(1.0, max(0.0, conf / 100.0)),
                block=int(data["block_num"][i]),
                paragraph=int(data["par_num"][i]),
                line=int(data["line_num"][i]),
            )
        )
    return words
