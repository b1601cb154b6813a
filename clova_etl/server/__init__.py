"""A local stand-in for a CLOVA OCR domain: same URLs, header, bodies, errors and faults.

Start it with ``clova-etl serve`` or, in-process, with :func:`start_background`.
"""

from __future__ import annotations

from clova_etl.server.app import create_app
from clova_etl.server.config import SECRET_ENV, ServerConfig
from clova_etl.server.engine import (
    Engine,
    PageInput,
    PageResult,
    RecognizeOptions,
    SourceDocument,
    box_quad,
    cell_word,
    quad_poly,
    word_field,
)
from clova_etl.server.engines import ENGINES, get_engine
from clova_etl.server.errors import ApiError
from clova_etl.server.runner import RunningServer, run_server, start_background
from clova_etl.server.synthetic import SyntheticEngine

__all__ = [
    "ENGINES",
    "SECRET_ENV",
    "ApiError",
    "Engine",
    "PageInput",
    "PageResult",
    "RecognizeOptions",
    "RunningServer",
    "ServerConfig",
    "SourceDocument",
    "SyntheticEngine",
    "box_quad",
    "cell_word",
    "create_app",
    "get_engine",
    "quad_poly",
    "run_server",
    "start_background",
    "word_field",
]
