"""Several server processes behind one port: ``clova-etl serve --workers N``.

The parent binds the listening socket and creates the shared state file
(:mod:`clova_etl.server.shared`), then forks N workers that each run uvicorn on that socket (the
kernel hands each new connection to one of them). Counters, rate limit, quota and the fault
sequence live in the file, so the N processes answer as one server. The parent only supervises:
on SIGINT/SIGTERM, or when a worker dies, it stops them all and removes the file.
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

import uvicorn

from clova_etl.server.config import ServerConfig
from clova_etl.server.engine import Engine
from clova_etl.server.shared import SharedStore

log = logging.getLogger(__name__)

_STOP_TIMEOUT_S = 10.0


def _serve(config: ServerConfig, engine: Engine | None, sock: socket.socket, state: Path) -> None:
    """One worker: uvicorn on the inherited socket, over the shared state."""
    from clova_etl.server.runner import uvicorn_config

    uvicorn.Server(uvicorn_config(config, engine, shared=state)).run(sockets=[sock])


def _stop(procs: list[BaseProcess]) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()  # SIGTERM: uvicorn finishes the answers in flight
    for proc in procs:
        proc.join(_STOP_TIMEOUT_S)
        if proc.is_alive():
            proc.kill()
            proc.join()


def run_workers(
    config: ServerConfig,
    engine: Engine | None,
    workers: int,
    *,
    on_bound: Callable[[int], None] | None = None,
) -> None:
    """Serve from ``workers`` processes until interrupted or until one of them dies."""
    from clova_etl.server.runner import bind_socket

    # fork: the workers inherit the socket and the engine ready-made (no re-import).
    context = multiprocessing.get_context("fork")
    sock = bind_socket(config.host, config.port)
    state_dir = Path(tempfile.mkdtemp(prefix="clova-ocr-server-"))
    procs: list[BaseProcess] = []
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        state = state_dir / "state.sqlite"
        SharedStore.create(state)
        sock.listen(2048)
        if on_bound is not None:
            on_bound(int(sock.getsockname()[1]))
        for number in range(workers):
            proc = context.Process(
                target=_serve,
                args=(config, engine, sock, state),
                name=f"clova-ocr-server-{number}",
            )
            proc.start()
            procs.append(proc)
        log.info("%d worker processes: %s", workers, ", ".join(str(p.pid) for p in procs))
        while not stopping:
            ended = wait([p.sentinel for p in procs], timeout=0.5)
            if ended:
                dead = [p for p in procs if not p.is_alive()]
                log.error("worker(s) %s exited: stopping", ", ".join(str(p.pid) for p in dead))
                break
    finally:
        _stop(procs)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
        shutil.rmtree(state_dir, ignore_errors=True)


__all__ = ["run_workers"]
