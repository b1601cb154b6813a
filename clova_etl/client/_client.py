"""The CLOVA OCR clients: async (the engine) and sync (a thin wrapper running it)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import random
import ssl
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
)
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from clova_etl import __version__
from clova_etl.client._attempts import AttemptHooks, RateLimiter, charge_of
from clova_etl.client._config import Limits, RetryPolicy, Timeouts
from clova_etl.client._exceptions import (
    AttemptRefusedError,
    ClovaOCRError,
    ConnectionDroppedError,
    ConnectionFailedError,
    MalformedResponseError,
    QuotaExceededError,
    QuotaNotSentError,
    RequestRejectedError,
    RequestTimeoutError,
    ResponseValidationError,
    TransportError,
)
from clova_etl.client._models import OCRResponse
from clova_etl.client._ratelimit import TokenBucket
from clova_etl.client._request import OCRRequest, PreparedRequest, prepare
from clova_etl.client._response import classify_error, parse_error_body, parse_response
from clova_etl.client._result import OCRResult
from clova_etl.client._secret import Secret
from clova_etl.client._url import InvokeURL

__all__ = ["ENV_INVOKE_URL", "ENV_SECRET", "AsyncClovaOCRClient", "ClovaOCRClient", "OnResult"]

logger = logging.getLogger("clova_etl.client")

ENV_INVOKE_URL = "CLOVA_OCR_INVOKE_URL"
ENV_SECRET = "CLOVA_OCR_SECRET"  # noqa: S105 (the variable's name, not a secret)

OnResult = Callable[[OCRResult], Awaitable[None] | None]
_T = TypeVar("_T")


@contextmanager
def _mapped_transport_errors(request_id: str, secret: Secret) -> Iterator[None]:
    """The one place where httpx's exceptions become ours (``raise Mapped(...) from exc``)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        # Only a read timeout comes after the whole request was sent.
        raise RequestTimeoutError(
            f"{type(exc).__name__}: {secret.redact(str(exc)) or 'timed out'}",
            request_id=request_id,
            delivered=isinstance(exc, httpx.ReadTimeout),
        ) from exc
    except httpx.ConnectError as exc:
        raise ConnectionFailedError(
            f"could not connect: {secret.redact(str(exc))}", request_id=request_id
        ) from exc
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.CloseError) as exc:
        raise ConnectionDroppedError(
            f"{type(exc).__name__}: {secret.redact(str(exc))}",
            request_id=request_id,
            delivered=not isinstance(exc, httpx.WriteError),
        ) from exc
    except httpx.DecodingError as exc:
        raise MalformedResponseError(
            f"response could not be decoded: {secret.redact(str(exc))}", request_id=request_id
        ) from exc
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
        # Our request or URL is wrong: sending it again cannot help.
        raise TransportError(
            f"{type(exc).__name__}: {secret.redact(str(exc))}",
            request_id=request_id,
            retryable=False,
        ) from exc
    except httpx.TransportError as exc:
        raise TransportError(
            f"{type(exc).__name__}: {secret.redact(str(exc))}", request_id=request_id
        ) from exc
    except OSError as exc:
        # Not a network error (httpx maps those): the source file went away while sending.
        raise RequestRejectedError(
            f"cannot read the source file while sending: {exc.strerror}",
            request_id=request_id,
            code="UNREADABLE_FILE",
        ) from exc


@dataclass(slots=True)
class _Batch:
    """State shared by the requests of one ``ocr_many`` call."""

    quota_error: QuotaExceededError | None = None
    callback_error: BaseException | None = None


def _hook_failed(batch: _Batch, request_id: str, exc: Exception) -> None:
    """An attempt hook failed: the batch sends nothing new and raises it at the end."""
    logger.error("ocr attempt hook failed request_id=%s: %r", request_id, exc)
    if batch.callback_error is None:
        batch.callback_error = exc


def _detached(error: ClovaOCRError) -> ClovaOCRError:
    """The error without its traceback and httpx cause, fit to be kept in a result.

    Results of a whole batch stay in memory; a traceback pins the request body of every
    frame, and httpx's exception pins the request itself (its body and its secret header).
    The cause's type and text are already in our message.
    """
    error.__traceback__ = None
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    return error


def _now() -> datetime:
    return datetime.now(UTC)


async def _async_iter(items: list[OCRRequest]) -> AsyncIterator[OCRRequest]:
    for item in items:
        yield item


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying TLS context, built once per process.

    Building one loads the CA bundle (~50 ms); a pipeline makes a client per batch.
    """
    return httpx.create_ssl_context()


class AsyncClovaOCRClient:
    """Async client for one CLOVA OCR invoke URL (General ``/general`` and Template ``/infer``)."""

    def __init__(
        self,
        invoke_url: str | httpx.URL,
        secret: str | Secret,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        limits: Limits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        hooks: AttemptHooks | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        """``hooks`` hear of every attempt (and may refuse one); ``rate_limiter`` replaces the
        in-process rate of ``limits`` with one shared by other clients (other processes)."""
        self.invoke_url = InvokeURL(invoke_url)
        self._secret = Secret(secret)
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self.limits = limits or Limits()
        self._http = httpx.AsyncClient(
            timeout=self.timeouts.to_httpx(),
            limits=self.limits.to_httpx(),
            transport=transport,
            follow_redirects=False,
            verify=_tls_context(),
        )
        self._hooks = hooks
        self._limiter: RateLimiter | None = rate_limiter
        if self._limiter is None and self.limits.requests_per_second:
            self._limiter = TokenBucket(self.limits.requests_per_second, self.limits.burst)
        self._slots: asyncio.Semaphore | None = None
        self._rng = random.Random()  # noqa: S311 (jitter, not crypto)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """A client from ``CLOVA_OCR_INVOKE_URL`` and ``CLOVA_OCR_SECRET`` (read only here)."""
        missing = [n for n in (ENV_INVOKE_URL, ENV_SECRET) if not os.environ.get(n)]
        if missing:
            raise ValueError(f"set {' and '.join(missing)} to build a client from the environment")
        return cls(os.environ[ENV_INVOKE_URL], os.environ[ENV_SECRET], **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(invoke_url={str(self.invoke_url)!r}, secret={self._secret})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def ocr(self, request: OCRRequest, *, raise_on_error: bool = True) -> OCRResult:
        """Send one request (with retries); raise its error unless ``raise_on_error=False``."""
        result = await self._execute(request, None)
        return result.raise_for_error() if raise_on_error else result

    async def ocr_many(
        self,
        requests: Iterable[OCRRequest] | AsyncIterable[OCRRequest],
        *,
        on_result: OnResult | None = None,
        keep_results: bool = True,
    ) -> list[OCRResult]:
        """Run many requests concurrently; one result per request, in the order given.

        ``keep_results=False`` (with an ``on_result`` that takes each result as it comes)
        returns an empty list and holds no result after its ``on_result``: a long stream's
        answers are not all kept in memory, where the garbage collector would walk them again
        and again.

        ``requests`` may be an async iterable: it is then drawn from lazily, one request each
        time a slot is free, so a caller can prepare the next requests (claims, reads) while
        the earlier ones are in flight. Per-request failures are reported in the results,
        never raised. ``on_result`` is called (and awaited) as each request finishes, so a
        caller that stores answers there loses only in-flight requests if the process dies.
        After a quota error (0023) nothing more is sent: the remaining requests get a
        :class:`QuotaNotSentError` with ``attempts == 0``. If ``on_result``, an attempt hook
        or the async iterable raises, no new request starts, in-flight ones finish (and are
        delivered), then the first error is raised.
        """
        batch = _Batch()
        items: list[OCRRequest | None] = []
        results: list[OCRResult | None] = []
        if isinstance(requests, AsyncIterable):
            source: AsyncIterator[OCRRequest] = aiter(requests)
            workers = self.limits.max_concurrency
        else:
            listed = list(requests)
            source = _async_iter(listed)
            workers = min(self.limits.max_concurrency, len(listed))
        taking = asyncio.Lock()

        async def take() -> int | None:
            # One taker at a time: an async source may await (e.g. prepare its next requests).
            async with taking:
                if batch.callback_error is not None:
                    return None
                try:
                    item = await anext(source)
                except StopAsyncIteration:
                    return None
                except Exception as exc:
                    logger.error("ocr request source failed: %r", exc)
                    batch.callback_error = exc
                    return None
                items.append(item)
                results.append(None)
                return len(items) - 1

        async def deliver(index: int, result: OCRResult) -> None:
            if keep_results:
                results[index] = result
            items[index] = None  # the request's bytes are not needed any more
            if on_result is None:
                return
            try:
                maybe = on_result(result)
                if inspect.isawaitable(maybe):
                    await maybe
            except Exception as exc:
                logger.error("ocr on_result failed request_id=%s: %r", result.request_id, exc)
                if batch.callback_error is None:
                    batch.callback_error = exc

        async def worker() -> None:
            while (index := await take()) is not None:
                request = items[index]
                assert request is not None
                await deliver(index, await self._execute(request, batch))

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
        finally:
            closer = getattr(source, "aclose", None)
            if closer is not None:
                await closer()  # an async generator's own clean-up runs now, in this loop
        if batch.callback_error is not None:
            raise batch.callback_error
        return [r for r in results if r is not None]

    # -- internals ---------------------------------------------------------------------------

    def _slot(self) -> asyncio.Semaphore:
        # Created lazily: a semaphore belongs to the loop that first uses it.
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limits.max_concurrency)
        return self._slots

    async def _execute(self, request: OCRRequest, batch: _Batch | None) -> OCRResult:
        requested_at = _now()
        started = time.monotonic()
        rid = request.request_id
        attempts = malformed = 0
        status: int | None = None
        body: bytes | None = None
        response: OCRResponse | None = None
        error: ClovaOCRError | None = None
        pages: int | None = None

        try:
            prepared = prepare(request)
            pages = prepared.pages
        except RequestRejectedError as exc:
            error = exc
            prepared = None
            logger.warning("ocr rejected request_id=%s code=%s: %s", rid, exc.code, exc.message)

        while prepared is not None:
            if batch is not None and batch.quota_error is not None:
                error = QuotaNotSentError(request_id=rid)
                break
            attempts += 1
            status = body = response = error = None
            async with self._slot():
                if self._limiter is not None:
                    await self._limiter.acquire()
                if self._hooks is not None:
                    try:
                        refused = await self._hooks.before_attempt(
                            request, attempts, prepared.pages
                        )
                    except Exception as exc:
                        if batch is None:
                            raise
                        _hook_failed(batch, rid, exc)
                        refused = f"not sent: recording the attempt failed ({type(exc).__name__})"
                    if refused is not None:
                        attempts -= 1  # not sent
                        error = AttemptRefusedError(refused, request_id=rid)
                        break
                t0 = time.monotonic()
                logger.debug(
                    "ocr send request_id=%s api=%s version=%s transport=%s format=%s "
                    "size=%s pages=%s attempt=%d",
                    rid,
                    request.api,
                    request.version,
                    request.transport,
                    prepared.format,
                    prepared.size_bytes,
                    prepared.pages,
                    attempts,
                )
                try:
                    status, body, headers = await self._send(prepared)
                    response = self._interpret(status, body, headers, rid)
                except ClovaOCRError as exc:
                    error = _detached(exc)
                except Exception as exc:
                    # A bug or an unforeseen fault must not sink a whole batch: report it as a
                    # terminal error of this request (with its traceback in the log).
                    logger.exception("ocr unexpected error request_id=%s", rid)
                    error = ClovaOCRError(
                        f"unexpected {type(exc).__name__}: {self._secret.redact(str(exc))}",
                        request_id=rid,
                    )
                if self._hooks is not None:
                    try:
                        await self._hooks.after_attempt(
                            request,
                            attempts,
                            charge_of(error),
                            status=status,
                            error=error,
                            billable_pages=response.billable_pages if response is not None else 0,
                            body=body,
                        )
                    except Exception as exc:
                        if batch is None:
                            raise
                        _hook_failed(batch, rid, exc)
            logger.debug(
                "ocr answer request_id=%s status=%s code=%s attempt=%d duration_ms=%d",
                rid,
                status,
                error.code if error else None,
                attempts,
                (time.monotonic() - t0) * 1000,
            )
            if error is None:
                break
            if isinstance(error, QuotaExceededError) and batch is not None:
                if batch.quota_error is None:
                    logger.error("ocr quota exhausted (request_id=%s): batch stops sending", rid)
                batch.quota_error = error
            if isinstance(error, MalformedResponseError):
                malformed += 1
            if not self._should_retry(error, attempts, malformed):
                break
            delay = self.retry.delay(attempts, retry_after=error.retry_after, rng=self._rng)
            logger.warning(
                "ocr retry request_id=%s attempt=%d status=%s code=%s delay=%.2fs: %s",
                rid,
                attempts,
                status,
                error.code,
                delay,
                type(error).__name__,
            )
            await asyncio.sleep(delay)

        duration_ms = int((time.monotonic() - started) * 1000)
        if error is None:
            logger.debug(
                "ocr done request_id=%s status=%s attempts=%d duration_ms=%d",
                rid,
                status,
                attempts,
                duration_ms,
            )
        elif attempts:
            logger.warning(
                "ocr failed request_id=%s status=%s code=%s attempts=%d duration_ms=%d: %s",
                rid,
                status,
                error.code,
                attempts,
                duration_ms,
                error,
            )
        return OCRResult(
            request_id=rid,
            response=response,
            raw_body=body,
            http_status=status,
            attempts=attempts,
            requested_at=requested_at,
            completed_at=_now(),
            duration_ms=duration_ms,
            error=error,
            pages_sent=pages,
        )

    def _should_retry(self, error: ClovaOCRError, attempts: int, malformed: int) -> bool:
        if not error.retryable or attempts >= self.retry.max_attempts:
            return False
        return not (
            isinstance(error, MalformedResponseError)
            and malformed > self.retry.max_malformed_retries
        )

    async def _send(self, prepared: PreparedRequest) -> tuple[int, bytes, httpx.Headers]:
        url = self.invoke_url.endpoint(prepared.request.api)
        headers = {
            "X-OCR-SECRET": self._secret.get_secret_value(),
            "User-Agent": f"clova-etl/{__version__}",
        }
        with (
            _mapped_transport_errors(prepared.request_id, self._secret),
            prepared.build(self._http, url, headers, int(time.time() * 1000)) as request,
        ):
            response = await self._http.send(request)
        return response.status_code, response.content, response.headers

    def _interpret(
        self, status: int, body: bytes, headers: httpx.Headers, request_id: str
    ) -> OCRResponse:
        if 200 <= status < 300:
            try:
                return parse_response(body, request_id=request_id, status_code=status)
            except ResponseValidationError as exc:
                # Some gateways answer 200 with a CLOVA error body: classify it by its code.
                if not isinstance(exc, MalformedResponseError) and parse_error_body(body):
                    raise classify_error(
                        status, body, headers, request_id=request_id, secret=self._secret
                    ) from None
                raise
        raise classify_error(status, body, headers, request_id=request_id, secret=self._secret)


class ClovaOCRClient:
    """Blocking client: the async client run on a private event loop (one per client).

    Call it from synchronous code (Airflow tasks, scripts); inside ``async`` code use
    :class:`AsyncClovaOCRClient`. ``on_result`` callbacks run in the calling thread.
    """

    def __init__(
        self,
        invoke_url: str | httpx.URL,
        secret: str | Secret,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        limits: Limits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        hooks: AttemptHooks | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self._async = AsyncClovaOCRClient(
            invoke_url,
            secret,
            timeouts=timeouts,
            retry=retry,
            limits=limits,
            transport=transport,
            hooks=hooks,
            rate_limiter=rate_limiter,
        )
        self._runner = asyncio.Runner()
        self._closed = False

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """A client from ``CLOVA_OCR_INVOKE_URL`` and ``CLOVA_OCR_SECRET`` (read only here)."""
        missing = [n for n in (ENV_INVOKE_URL, ENV_SECRET) if not os.environ.get(n)]
        if missing:
            raise ValueError(f"set {' and '.join(missing)} to build a client from the environment")
        return cls(os.environ[ENV_INVOKE_URL], os.environ[ENV_SECRET], **kwargs)

    @property
    def invoke_url(self) -> InvokeURL:
        """The invoke URL (without the API path)."""
        return self._async.invoke_url

    def __repr__(self) -> str:
        return repr(self._async).replace(type(self._async).__name__, type(self).__name__, 1)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool and the private event loop."""
        if self._closed:
            return
        self._closed = True
        try:
            self._runner.run(self._async.aclose())
        finally:
            self._runner.close()

    def ocr(self, request: OCRRequest, *, raise_on_error: bool = True) -> OCRResult:
        """Send one request (with retries); raise its error unless ``raise_on_error=False``."""
        return self._run(self._async.ocr(request, raise_on_error=raise_on_error))

    def ocr_many(
        self,
        requests: Iterable[OCRRequest] | AsyncIterable[OCRRequest],
        *,
        on_result: OnResult | None = None,
        keep_results: bool = True,
    ) -> list[OCRResult]:
        """Run many requests concurrently; see :meth:`AsyncClovaOCRClient.ocr_many`.

        An async iterable (or ``on_result``'s awaitables) runs on this client's private loop.
        """
        return self._run(
            self._async.ocr_many(requests, on_result=on_result, keep_results=keep_results)
        )

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        if self._closed:
            coro.close()
            raise RuntimeError("the client is closed")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._runner.run(coro)
        coro.close()
        raise RuntimeError(
            "ClovaOCRClient cannot run inside an event loop: use AsyncClovaOCRClient there"
        )
