"""The ``clova-etl`` command: a thin shell over the library, one module per sub-command.

Each module in :data:`COMMANDS` defines ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; modules import their heavy dependencies inside ``run`` so that
``clova-etl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from clova_etl import __version__

# name -> module implementing it
COMMANDS: dict[str, str] = {
    "serve": "clova_etl.commands.serve",
    "samples": "clova_etl.commands.samples",
    "flatten": "clova_etl.commands.flatten",
    "load": "clova_etl.commands.load",
    "check": "clova_etl.commands.check",
    "ingest": "clova_etl.commands.ingest",
    "replay": "clova_etl.commands.replay",
    "prune": "clova_etl.commands.prune",
    "billing": "clova_etl.commands.billing",
    "report": "clova_etl.commands.report",
    "inspect": "clova_etl.commands.inspect",
    "demo": "clova_etl.commands.demo",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command that is installed."""
    parser = argparse.ArgumentParser(
        prog="clova-etl", description="Scanned documents to warehouse tables via CLOVA OCR."
    )
    parser.add_argument("--version", action="version", version=f"clova-etl {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


# Loggers that speak once per HTTP request: quiet unless -v (a 10,000-document run would
# print 20,000 lines); progress lines stand in for them.
PER_REQUEST_LOGGERS = ("httpx", "httpcore", "clova_etl.client")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time, so that a live progress line (which
    swaps it for a proxy) keeps log lines above itself instead of being torn by them."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(verbose: bool) -> None:
    """Log to stderr: INFO (DEBUG with -v); per-request loggers only with -v."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    for name in PER_REQUEST_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    from clova_etl import progress

    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    progress.configure("auto")
    return int(args._run(args))


if __name__ == "__main__":
    sys.exit(main())
