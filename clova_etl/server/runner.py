"""Running the server with uvicorn: in the foreground (``clova-etl serve``) or on a background
thread of the current process (tests, the demo), bound to a free port when ``port`` is 0.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from clova_etl.server.app import TRANSPORT_SCOPE_KEY, create_app
from clova_etl.server.config import ServerConfig
from clova_etl.server.engine import Engine

ASGIApp = Callable[..., Any]


class TransportH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that puts the connection's transport in the ASGI scope.

    The drop fault must close a connection without answering; ASGI has no way to do that, so
    the handler aborts the transport itself.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner: ASGIApp = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            scope[TRANSPORT_SCOPE_KEY] = self.transport
            await inner(scope, receive, send)

        self.app = app


def uvicorn_config(
    config: ServerConfig, engine: Engine | None, shared: Path | None = None
) -> uvicorn.Config:
    """uvicorn's settings for one server process (``shared``: see :func:`create_app`)."""
    return uvicorn.Config(
        create_app(config, engine, shared=shared),
        host=config.host,
        port=config.port,
        http=TransportH11Protocol,
        ws="none",
        lifespan="off",
        log_level=config.log_level,
        access_log=config.log_level in ("debug", "trace"),
        timeout_graceful_shutdown=2,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on (host, port); port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def run_server(
    config: ServerConfig,
    engine: Engine | None = None,
    *,
    on_bound: Callable[[int], None] | None = None,
    workers: int = 1,
) -> None:
    """Serve in the foreground until interrupted (SIGINT/SIGTERM).

    ``on_bound`` receives the port actually bound (useful with port 0) before serving starts.
    ``workers`` > 1 serves from that many processes sharing the socket and the server's state
    (see :mod:`clova_etl.server.prefork`).
    """
    if workers > 1:
        from clova_etl.server.prefork import run_workers

        run_workers(config, engine, workers, on_bound=on_bound)
        return
    # The app (and its engine) first: an unavailable engine fails before anything is announced.
    server = uvicorn.Server(uvicorn_config(config, engine))
    sock = bind_socket(config.host, config.port)
    try:
        if on_bound is not None:
            on_bound(int(sock.getsockname()[1]))
        server.run(sockets=[sock])
    finally:
        sock.close()


class RunningServer:
    """A server running on a background thread of this process."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, config: ServerConfig, port: int
    ) -> None:
        self._server = server
        self._thread = thread
        self.config = config
        self.port = port
        self.host = config.host
        self._http: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"RunningServer(base_url={self.base_url!r}, engine={self.config.engine!r})"

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the server."""
        return f"http://{self.host}:{self.port}"

    @property
    def secret(self) -> str:
        """The X-OCR-SECRET value the server accepts."""
        return self.config.secret

    def invoke_url(
        self, api: str = "general", *, domain: str = "1234", signature: str = "local"
    ) -> str:
        """The invoke URL of an API (``general`` or ``template``), shaped like CLOVA's."""
        if api not in ("general", "template"):
            raise ValueError(f"api must be 'general' or 'template', got {api!r}")
        tail = "general" if api == "general" else "infer"
        return f"{self.base_url}/custom/v1/{domain}/{signature}/{tail}"

    def _client(self) -> httpx.Client:
        # One keep-alive client: building an httpx client costs tens of milliseconds.
        if self._http is None:
            self._http = httpx.Client(base_url=self.base_url, timeout=10, trust_env=False)
        return self._http

    def stats(self) -> dict[str, Any]:
        """The server's call counters (``GET /_stats``)."""
        response = self._client().get("/_stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset_stats(self) -> None:
        """Zero the counters, the quota and the fault sequence (``DELETE /_stats``)."""
        self._client().delete("/_stats").raise_for_status()

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end."""
        if self._http is not None:
            self._http.close()
            self._http = None
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_background(
    config: ServerConfig, engine: Engine | None = None, *, timeout: float = 10.0
) -> RunningServer:
    """Start a server on a daemon thread; ``config.port`` 0 picks a free port."""
    # The app (and its engine) first: an unavailable engine fails here, before any socket.
    server = uvicorn.Server(uvicorn_config(config, engine))
    sock = bind_socket(config.host, config.port)
    port = int(sock.getsockname()[1])
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the starting thread below
            errors.append(exc)
        finally:
            sock.close()

    thread = threading.Thread(target=serve, name=f"clova-ocr-server:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if errors or not thread.is_alive():
            raise RuntimeError(f"OCR server failed to start: {errors[0] if errors else 'exited'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"OCR server did not start within {timeout} s")
        time.sleep(0.005)
    return RunningServer(server, thread, config, port)
