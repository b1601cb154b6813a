"""Without the tesseract binary the engine refuses to start, saying what to install."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clova_etl.server import get_engine
from clova_etl.server.tesseract import (
    TesseractUnavailableError,
    runtime,
    tesseract_available,
    tesseract_problem,
)


@pytest.fixture
def no_tesseract(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process as it is on a machine without tesseract (the probe is re-run)."""
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    runtime._check.cache_clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        runtime._check.cache_clear()


@pytest.mark.usefixtures("no_tesseract")
def test_missing_binary_is_reported_with_the_fix() -> None:
    assert not tesseract_available()
    problem = tesseract_problem()
    assert problem is not None
    assert "tesseract binary is not on PATH" in problem
    assert "tesseract-ocr-kor" in problem and ".ci/setup" in problem


@pytest.mark.usefixtures("no_tesseract")
def test_server_start_fails_clearly() -> None:
    with pytest.raises(TesseractUnavailableError, match="OCR engine 'tesseract' is unavailable"):
        get_engine("tesseract")


def test_missing_language_data_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    monkeypatch.setattr(pytesseract, "get_languages", lambda config="": ["eng", "osd"])
    runtime._check.cache_clear()
    try:
        assert tesseract_problem() == (
            "tesseract language data missing: kor, jpn, chi_tra; " + runtime.INSTALL_HINT
        )
    finally:
        monkeypatch.undo()
        runtime._check.cache_clear()
