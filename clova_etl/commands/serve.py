"""``clova-etl serve``: run the local CLOVA-compatible OCR server."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clova_etl.server.engine import Engine

HELP = "run a local CLOVA-compatible OCR server (synthetic engine, fault injection)"

logger = logging.getLogger(__name__)


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within [0, 1], got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 = any free port)")
    parser.add_argument(
        "--secret",
        default=None,
        help="X-OCR-SECRET value to accept (default: the CLOVA_OCR_SECRET variable)",
    )
    parser.add_argument("--engine", default="synthetic", help="recognition engine")
    parser.add_argument(
        "--rate-limit", type=float, default=None, metavar="RPS", help="0025 beyond RPS calls/s"
    )
    parser.add_argument(
        "--quota", type=int, default=None, metavar="N", help="0023 after N billable calls"
    )
    parser.add_argument(
        "--fail-rate", type=_rate, default=0.0, metavar="F", help="share of calls failing 0500/0501"
    )
    parser.add_argument(
        "--malformed-rate",
        type=_rate,
        default=0.0,
        metavar="F",
        help="share of calls answered 200 with a truncated JSON body",
    )
    parser.add_argument(
        "--drop-rate",
        type=_rate,
        default=0.0,
        metavar="F",
        help="share of calls whose connection is closed without an answer",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, metavar="MS", help="added delay")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault decisions")
    parser.add_argument(
        "--no-table-detection",
        action="store_true",
        help="the domain rejects enableTableDetection=true with 0028",
    )
    parser.add_argument(
        "--allow-url-host",
        action="append",
        default=[],
        metavar="HOST",
        help="host whose images[].url may be fetched (repeatable; default none)",
    )
    parser.add_argument(
        "--domain",
        action="append",
        default=[],
        metavar="ID",
        help="accepted domain id in /custom/v1/{domain}/... (repeatable; default any → else 0022)",
    )
    parser.add_argument(
        "--templates",
        type=Path,
        default=None,
        metavar="FILE",
        help="templates.json of the deployed templates (default: the sample templates)",
    )
    parser.add_argument("--pdf-dpi", type=float, default=144.0, help="PDF rendering density")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="server processes behind the port (default 1); counters, rate limit, quota and "
        "faults are shared by all of them",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")


def _load_templates(path: Path) -> dict[int, str]:
    """Deployed templates (id -> name); ValueError names the bad entry and key."""
    from clova_etl.server.tesseract.templates import load_template_file

    return {t.id: t.name for t in load_template_file(path)}


def _engine(name: str, templates: Path | None) -> Engine:
    """The engine, built before serving so that a missing one is reported at start-up."""
    from clova_etl.server import get_engine

    if name == "tesseract" and templates is not None:
        # Template OCR needs the regions of the deployed templates, not only their names.
        from clova_etl.server.tesseract import TesseractEngine

        return TesseractEngine.from_template_file(templates)
    return get_engine(name)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from clova_etl.server import ServerConfig, run_server

    fields: dict[str, object] = {}
    if args.workers < 1:
        print(f"clova-etl serve: --workers must be >= 1, got {args.workers}", file=sys.stderr)
        return 2
    try:
        if args.templates is not None:
            fields["templates"] = _load_templates(args.templates)
        config = ServerConfig(
            host=args.host,
            port=args.port,
            secret=args.secret or "",
            engine=args.engine,
            rate_limit=args.rate_limit,
            quota=args.quota,
            fail_rate=args.fail_rate,
            malformed_rate=args.malformed_rate,
            drop_rate=args.drop_rate,
            latency_ms=args.latency_ms,
            seed=args.seed,
            table_detection=not args.no_table_detection,
            allow_url_hosts=frozenset(args.allow_url_host),
            domains=frozenset(args.domain),
            pdf_dpi=args.pdf_dpi,
            log_level=args.log_level,
            **fields,  # type: ignore[arg-type]
        )
    except ValueError as exc:
        print(f"clova-etl serve: {exc}", file=sys.stderr)
        return 2
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("serving on %s: reachable from other machines", config.host)

    def announce(port: int) -> None:
        host = f"[{config.host}]" if ":" in config.host else config.host
        logger.info(
            "local CLOVA OCR server (engine %s, %d process(es)); invoke URLs "
            "http://%s:%d/custom/v1/1234/local/general and .../infer",
            config.engine,
            args.workers,
            host,
            port,
        )

    try:
        engine = _engine(config.engine, args.templates)
    except (RuntimeError, ValueError) as exc:  # engine unavailable here, bad template file
        print(f"clova-etl serve: {exc}", file=sys.stderr)
        return 2
    try:
        run_server(config, engine, on_bound=announce, workers=args.workers)
    except OSError as exc:
        print(
            f"clova-etl serve: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr
        )
        return 1
    return 0
