"""The registry of recognition engines the server can run (``--engine NAME``)."""

from __future__ import annotations

from collections.abc import Callable

from clova_etl.server.engine import Engine


def _synthetic() -> Engine:
    from clova_etl.server.synthetic import SyntheticEngine

    return SyntheticEngine()


def _tesseract() -> Engine:
    # Raises TesseractUnavailableError (naming what to install) when the binary is missing.
    from clova_etl.server.tesseract import TesseractEngine

    return TesseractEngine()


# name -> factory; factories import lazily so that optional engines cost nothing when unused.
ENGINES: dict[str, Callable[[], Engine]] = {
    "synthetic": _synthetic,
    "tesseract": _tesseract,
}


def get_engine(name: str) -> Engine:
    """A new engine by name; ValueError names the known engines when ``name`` is unknown."""
    try:
        factory = ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise ValueError(f"unknown OCR engine {name!r} (known: {known})") from None
    return factory()
