"""The httpx transport every channel request goes through: httpcore's connection pool on a chosen network backend.

httpx's own AsyncHTTPTransport takes no network backend, and the channels need
one (outbound.PublicAddressBackend judges each address it connects to). So
this transport is built on the two libraries' public APIs: httpx's transport
API (AsyncBaseTransport) over httpcore.AsyncConnectionPool, whose
network_backend is public. Pooling and keep-alive are httpcore's, as in httpx.

A channel's answer is untrusted input, and a CUSTOM_HTTP shop is whatever
server a user named. So the transport bounds what one answer may cost a
worker: its body, decoded, is read no further than `max_bytes`, and the whole
exchange, from connecting to the last byte, ends at `deadline` seconds; httpx's
own timeouts bound each read, and a server trickling a byte at a time beats
them all. It undoes the Content-Encoding itself (none, or one layer of gzip or
deflate, the encodings it asks for), a network read at a time and never past
the limit: httpx would inflate a whole read at once, and stacked layers
("gzip, gzip") in turn, so a few kilobytes could fill memory before any
limit saw them.

Errors leave as httpx's, as from httpx's own transport, so the channel clients
catch one family:

    httpx.TransportError          what httpcore raised, mapped to its httpx namesake
    ├── DeadlineExceeded          (a TimeoutException) the exchange outlasted `deadline`
    └── AnswerTooLarge            (a DecodingError) the body, decoded, is larger than `max_bytes`
    httpx.DecodingError           an encoding other than those asked for, or a body that is not what it claims

`failure_in_words` tells a failed request to a person (a connection test's message, a connector's statusReason);
the exception itself, Python's words ("[SSL: WRONG_VERSION_NUMBER] ... (_ssl.c:1006)"), is for the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterator
from typing import TypeVar

import httpcore
import httpx

from app import stops

ACCEPTED_ENCODINGS = "gzip, deflate"
"""What the transport asks servers for, whatever httpx would offer (br and zstd, when their packages are there)."""
_INFLATED = frozenset({"gzip", "x-gzip", "deflate"})
_T = TypeVar("_T")


class DeadlineExceeded(httpx.TimeoutException):
    """The exchange, from connecting to the answer's last byte, took longer than the transport allows."""


class AnswerTooLarge(httpx.DecodingError):
    """The answer's body, decoded, is larger than the transport reads; reading stopped there."""


_HTTPX_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProxyError: httpx.ProxyError,
}


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """httpcore's exceptions raised as the most specific httpx exception; anything else (a refused address) as is."""
    try:
        yield
    except Exception as exc:
        for kind in type(exc).__mro__:
            if kind in _HTTPX_ERRORS:
                raise _HTTPX_ERRORS[kind](str(exc)) from exc
        raise


class _Decoder:
    """Undoes an answer's Content-Encoding, one network read at a time and never to more bytes than asked for."""

    def __init__(self, content_encoding: str) -> None:
        codings = [
            c for c in (part.strip().lower() for part in content_encoding.split(",")) if c not in ("", "identity")
        ]
        self._inflater = None
        if codings and (len(codings) > 1 or codings[0] not in _INFLATED):
            raise httpx.DecodingError(f"the answer's Content-Encoding {content_encoding!r} is not {ACCEPTED_ENCODINGS}")
        if codings:
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # a gzip or zlib header, told apart by zlib

    @property
    def decodes(self) -> bool:
        return self._inflater is not None

    def decode(self, data: bytes, *, room: int) -> bytes:
        """`data` decoded, cut after `room` + 1 bytes: more than `room` means the body is larger than allowed."""
        if self._inflater is None:
            return data
        try:
            return self._inflater.decompress(data, room + 1)  # max_length: inflating stops there
        except zlib.error as exc:
            raise httpx.DecodingError(f"the answer is not the {ACCEPTED_ENCODINGS} it claims: {exc}") from None


class _Body(httpx.AsyncByteStream):
    """An answer's body as httpcore reads it, decoded, within the byte limit and the deadline.

    Closing it hands the connection back to the pool (or closes it, when the body was not read to its end).
    """

    def __init__(self, stream: AsyncIterable[bytes], decoder: _Decoder, *, max_bytes: int, deadline: float) -> None:
        self._stream = stream
        self._decoder = decoder
        self._max_bytes = max_bytes
        self._deadline = deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = aiter(self._stream)
        received = 0
        while (chunk := await _before(self._deadline, anext(chunks, None))) is not None:
            data = self._decoder.decode(chunk, room=self._max_bytes - received)
            received += len(data)
            if received > self._max_bytes:
                raise AnswerTooLarge(f"the answer is larger than {self._max_bytes} bytes, the most read of one")
            yield data

    async def aclose(self) -> None:
        closing = getattr(self._stream, "aclose", None)
        if closing is not None:
            with _as_httpx_errors():
                await closing()


async def _before(deadline: float, step: Awaitable[_T]) -> _T:
    """`step`'s result, httpcore's errors as httpx's; DeadlineExceeded when the loop's clock passes `deadline` first."""
    timer = asyncio.timeout_at(deadline)
    try:
        async with timer:
            with _as_httpx_errors():
                return await step
    except TimeoutError:
        if not timer.expired():
            raise
        raise DeadlineExceeded(
            "the exchange, from connecting to the answer's last byte, outlasted the timeout"
        ) from None


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Requests that change nothing on the channel: the others may be applied there whether or not their answer is read."""
CHANGES_NOTHING = "pimsync.changes_nothing"
"""The request extension a channel client sets (True) on a request that changes nothing on the channel although its
method is not one of `_SAFE_METHODS`: a GraphQL query, which Shopify takes as a POST. A stop cuts it off at once, as a
GET, instead of waiting for its answer and keeping its chunk from the next worker as if it were a write."""


async def _answered_even_if_stopped(exchange: Awaitable[httpcore.Response], *, within: float) -> httpcore.Response:
    """`exchange`'s answer; a caller stopped meanwhile (a worker stopping in a deploy) is stopped only once the answer
    has come, or `within` seconds after the stop (app.stops.waited), whichever is first.

    A write the channel has received may be applied there even when its client goes away, and the channel answers
    once it has. The stopped run hands its chunk back at once, and whoever resumes it looks each product up by SKU
    before creating it: a look-up made while the cut-off write was still being applied found nothing, and the
    product was created a second time. Waiting for the answer first, the look-up finds what the write did.

    A shop may hold a write up to the exchange's deadline, longer than a stopping worker has before it is killed:
    past `within` the exchange is given up on, noted as such on the work's Stop (app.stops), whose owner keeps the
    work from the next worker until the deadline has passed."""
    task = asyncio.ensure_future(exchange)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if await stops.waited(task, within):
            with contextlib.suppress(Exception):
                await task.result().aclose()  # unread: the connection goes back to the pool, or is closed
        else:
            task.cancel()
            task.add_done_callback(_retrieved)
        raise


def _retrieved(task: asyncio.Future[httpcore.Response]) -> None:
    """An exchange given up on under a stop: its end is nobody's concern, but must not be reported unretrieved."""
    if not task.cancelled():
        task.exception()


class ChannelTransport(httpx.AsyncBaseTransport):
    """httpx's transport over an httpcore pool whose connections `backend` makes; HTTP/1.1, no proxy.

    An answer is read no further than `max_bytes` (decoded) and the exchange ends `deadline` seconds after it began.
    A stop waits for a write's answer at most `stop_wait` seconds (`_answered_even_if_stopped`).
    """

    def __init__(
        self,
        *,
        limits: httpx.Limits,
        backend: httpcore.AsyncNetworkBackend,
        max_bytes: int,
        deadline: float,
        stop_wait: float,
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
        self._max_bytes = max_bytes
        self._deadline = deadline
        self._stop_wait = stop_wait

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        deadline = asyncio.get_running_loop().time() + self._deadline
        headers = [(name, value) for name, value in request.headers.raw if name.lower() != b"accept-encoding"]
        sent = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=[*headers, (b"Accept-Encoding", ACCEPTED_ENCODINGS.encode())],
            content=request.stream,
            extensions=request.extensions,  # httpx's per-request timeouts travel here, as httpcore expects them
        )
        exchange = _before(deadline, self._pool.handle_async_request(sent))
        if request.method in _SAFE_METHODS or request.extensions.get(CHANGES_NOTHING):
            answer = await exchange
        else:
            with stops.write_in_flight(self._deadline):
                answer = await _answered_even_if_stopped(exchange, within=self._stop_wait)
        assert isinstance(answer.stream, AsyncIterable)  # the async pool's streams are
        received = httpx.Headers(answer.headers)
        try:
            decoder = _Decoder(received.get("Content-Encoding", ""))
        except httpx.DecodingError:
            await answer.aclose()
            raise
        if decoder.decodes:  # what the caller reads is decoded already: httpx must not decode it again
            del received["Content-Encoding"]
            received.pop("Content-Length", None)
        body = _Body(answer.stream, decoder, max_bytes=self._max_bytes, deadline=deadline)
        return httpx.Response(status_code=answer.status, headers=received, stream=body, extensions=answer.extensions)

    async def aclose(self) -> None:
        await self._pool.aclose()


TLS_WORDS: tuple[tuple[str, str], ...] = (
    (
        "WRONG_VERSION_NUMBER",
        "the server did not answer TLS at that address (is it an http:// address, or another port?)",
    ),
    ("CERTIFICATE_VERIFY_FAILED", "the server's TLS certificate could not be verified"),
)
"""OpenSSL's reason for a failed handshake, and what it means to whoever typed the address."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def failure_in_words(exc: httpx.RequestError) -> str:
    """What went wrong with a request that got no HTTP answer, in a sentence a person can act on."""
    causes = list(_chain(exc))
    said = " ".join(str(cause) for cause in causes)
    if any(isinstance(cause, ssl.SSLError) for cause in causes) or "[SSL" in said:
        for reason, words in TLS_WORDS:
            if reason in said:
                return words
        return "the TLS handshake with the server failed"
    refused = any(isinstance(cause, ConnectionRefusedError) for cause in causes) or any(
        isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED for cause in causes
    )
    if refused or "refused" in said.lower() or "Connect call failed" in said:
        return "nothing accepted a connection at that address (connection refused)"
    if "does not resolve" in said or "resolves to no IP address" in said:
        return str(exc)  # outbound.UnresolvableHost: already said for a person
    if isinstance(exc, httpx.ConnectError):
        return "the server could not be connected to"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without a well-formed HTTP answer"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "the connection to the server was cut during the request"
    return "the request could not be completed"
