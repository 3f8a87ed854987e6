"""Signed HTTP requests to a CUSTOM_HTTP shop, and the mapping of its HTTP answers onto the ChannelError tree.

This layer knows the transport rules of the protocol (signatures, bearer key,
status codes, Retry-After, JSON bodies) and nothing about products; the
adapter builds documents on top of it. It never retries: the sync engine owns
retry policy and the shared rate limit, and a hidden retry here would spend
the shop's budget behind the engine's back.

Secrets: the signing secret and API key are kept out of reprs, exception
messages and logs; text the shop sends back is scrubbed of them too, since a
shop may echo a header it rejected.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from app import json_codec
from app.channels.base import (
    ChannelError,
    ChannelRateLimited,
    ChannelRejected,
    ChannelTimeout,
    ChannelUnavailable,
    CredentialsRejected,
    RateGate,
    RateSignal,
    scrub,
)
from app.channels.retry import MIN_THROTTLE_WAIT
from app.channels.signing import signature_headers
from app.channels.transport import failure_in_words
from app.domain.credentials import header_safe
from app.domain.errors import ErrorCode

log = structlog.get_logger(__name__)


def _user_agent() -> str:
    try:
        release = version("pimsync")
    except PackageNotFoundError:  # running from a checkout that is not installed
        release = "dev"
    return f"pimsync/{release} (CUSTOM_HTTP channel)"


USER_AGENT = _user_agent()
"""Names the service, so a shop's logs and firewall can tell its requests apart."""
MIN_SECRET_LENGTH = 16


class InvalidCredentials(CredentialsRejected):
    """The stored credentials do not have the protocol's shape (CHN-002): no request was made.

    A CredentialsRejected, so callers that pause a connector on bad credentials
    treat it the same; the more precise code says the format is at fault, not the shop.
    """

    code = ErrorCode.INVALID_CREDENTIALS_FORMAT


@dataclass(frozen=True, slots=True)
class CustomHttpCredentials:
    """`{"baseUrl", "signingSecret", "apiKey"?}`, validated; secrets are left out of repr()."""

    base_url: str
    """Absolute http(s), no trailing slash, no query or fragment: endpoint paths are appended to it."""
    signing_secret: str = field(repr=False)
    api_key: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> CustomHttpCredentials:
        """Validate the decrypted credentials object; InvalidCredentials names the field, never its value."""
        base_url = raw.get("baseUrl")
        if not isinstance(base_url, str) or not base_url.strip():
            raise InvalidCredentials("credentials: baseUrl is required")
        base_url = base_url.strip()
        try:
            if any(c.isspace() or not c.isprintable() for c in base_url):
                raise ValueError("whitespace or control characters")
            parts = urlsplit(base_url)
            _ = parts.port  # a port that is not a number in 0-65535 raises here
        except ValueError:
            raise InvalidCredentials("credentials: baseUrl is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidCredentials("credentials: baseUrl must be an absolute http:// or https:// URL")
        try:
            httpx.URL(base_url)
        except httpx.InvalidURL:
            raise InvalidCredentials("credentials: baseUrl is not a valid URL") from None
        if parts.query or parts.fragment:
            raise InvalidCredentials("credentials: baseUrl must not have a query string or fragment")
        if parts.username is not None or parts.password is not None:
            raise InvalidCredentials("credentials: baseUrl must not carry a user name or password")
        secret = raw.get("signingSecret")
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            raise InvalidCredentials(
                f"credentials: signingSecret must be a string of at least {MIN_SECRET_LENGTH} characters"
            )
        api_key = raw.get("apiKey")
        if api_key is not None and not isinstance(api_key, str):
            raise InvalidCredentials("credentials: apiKey must be a string")
        if api_key and not header_safe(api_key):
            raise InvalidCredentials("credentials: apiKey must be visible ASCII only: it is sent in an HTTP header")
        return cls(base_url=base_url.rstrip("/"), signing_secret=secret, api_key=api_key or None)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - now, 0.0)


UNIX_TIME_AFTER = 1_000_000_000.0
"""An X-RateLimit-Reset this large is a Unix time (some servers send one), not seconds from now."""


def parse_rate_reset(value: str | None, *, now: float) -> float | None:
    """Seconds until an X-RateLimit-Reset: seconds from now, or a Unix time; None when absent or unreadable."""
    seconds = _count(value)
    if seconds is None:
        return None
    return max(seconds - now, 0.0) if seconds > UNIX_TIME_AFTER else seconds


def _count(header: str | None) -> float | None:
    """A header's non-negative finite number, or None."""
    try:
        number = float(header) if header is not None else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


class CustomHttpClient:
    """One shop's signed transport: `request()` returns a 2xx (or explicitly accepted) response or raises a ChannelError.

    The outbound-URL policy is not this client's: app/channels/factory.build_adapter vets baseUrl when the
    adapter is built, and the channels' HTTP client (outbound.PublicAddressBackend) judges every address it
    connects to.
    """

    def __init__(
        self,
        credentials: CustomHttpCredentials,
        http: httpx.AsyncClient,
        *,
        timeout: float,
        clock: Callable[[], float] = time.time,
        gate: RateGate | None = None,
    ) -> None:
        self.credentials = credentials
        self._http = http
        self._timeout = httpx.Timeout(timeout)
        self._clock = clock
        self._gate = gate

    def url(self, path: str) -> str:
        """`path` ("/info", "/products?skus=...") under the shop's baseUrl."""
        return self.credentials.base_url + path

    def scrub(self, text: str) -> str:
        """`text` without the connector's secrets, cut (base.scrub): for anything that may reach a message or a log."""
        return scrub(text, (self.credentials.signing_secret, self.credentials.api_key))

    def headers(self, body: bytes, *, json_body: bool) -> dict[str, str]:
        """Every header a request carries: signature over exactly `body`, bearer key, identification."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if json_body:
            headers["Content-Type"] = "application/json"
        if self.credentials.api_key:
            headers["Authorization"] = f"Bearer {self.credentials.api_key}"
        headers.update(signature_headers(self.credentials.signing_secret, body, self._clock()))
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        accept: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """Send one signed request; `body` is sent and signed byte for byte (None: no body, the empty string is signed).

        Statuses in `accept` are returned instead of raised (DELETE treats 404 as done).
        """
        url = self.url(path)
        path = path.split("?", 1)[0]  # messages and logs name the endpoint, not a query of up to 100 SKUs
        raw = body if body is not None else b""
        if self._gate is not None:
            await self._gate.acquire(1.0)
        headers = self.headers(raw, json_body=body is not None)
        started = time.perf_counter()
        try:
            response = await self._http.request(
                method,
                url,
                content=body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,  # a redirect could lead past the outbound URL check
            )
        except httpx.TimeoutException as exc:
            raise ChannelTimeout(
                f"CUSTOM_HTTP {method} {path}: no answer within {self._timeout.read}s ({type(exc).__name__})"
            ) from None
        except httpx.DecodingError as exc:  # too large, or not the encoding it claims (transport.ChannelTransport)
            raise ChannelRejected(self.scrub(f"CUSTOM_HTTP {method} {path}: unreadable answer: {exc}")) from None
        except httpx.RequestError as exc:  # refused or dropped connections, protocol errors
            log.warning("custom_http.no_answer", detail=self.scrub(f"{type(exc).__name__}: {exc}"))
            raise ChannelUnavailable(self.scrub(f"CUSTOM_HTTP {method} {path}: {failure_in_words(exc)}")) from None
        log.debug(
            "custom_http.request",
            method=method,
            path=path,
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        if self._gate is not None:
            await self._gate.observe(self.rate_signal(response))
        if response.is_success or response.status_code in accept:
            return response
        raise self.error_for(method, path, response)

    def rate_signal(self, response: httpx.Response) -> RateSignal:
        """What the shop said about its limit: the protocol's signal, a 429's Retry-After, and what X-RateLimit-*
        headers say, which may only ever slow the service down.

        The protocol does not define those headers, so their window is unknown
        (many servers count per hour): X-RateLimit-Limit never sizes the
        bucket, or an hourly quota of 5,000 would let thousands of requests
        out at once. X-RateLimit-Remaining caps what the bucket holds now, and
        a spent quota (Remaining 0) waits for X-RateLimit-Reset.

        A 429 that names no wait (no Retry-After, an unreadable one, 0, a date
        already past) still pauses every worker MIN_THROTTLE_WAIT, as a
        Shopify 429 does: the shop said "not now" to all of them, not just to
        the one that asked.
        """
        retry_after = None
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self._clock())
        remaining = _count(response.headers.get("X-RateLimit-Remaining"))
        if not retry_after and remaining == 0:
            retry_after = parse_rate_reset(response.headers.get("X-RateLimit-Reset"), now=self._clock())
        if response.status_code == 429 and not retry_after:
            retry_after = MIN_THROTTLE_WAIT
        return RateSignal(retry_after=retry_after, available=remaining)

    def error_for(self, method: str, path: str, response: httpx.Response) -> ChannelError:
        """The ChannelError an unsuccessful answer stands for (the protocol's status rules)."""
        status = response.status_code
        what = f"CUSTOM_HTTP {method} {path} answered {status}"
        detail = self.shop_message(response)
        message = f"{what}: {detail}" if detail else what
        if status in (401, 403):
            return CredentialsRejected(message, status=status)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self._clock())
            return ChannelRateLimited(message, retry_after=retry_after, status=status)
        if status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=self._clock())
            return ChannelUnavailable(message, status=status, retry_after=retry_after)
        if 300 <= status < 400:
            return ChannelRejected(
                f"{what}: redirects are not followed; point baseUrl at the final address", status=status
            )
        return ChannelRejected(message, status=status)

    def shop_message(self, response: httpx.Response) -> str:
        """The shop's own words for a failure: error.message, message or detail of a JSON body, else the start of the text."""
        text = ""
        try:
            payload = json_codec.loads(response.content) if response.content else None
        except (ValueError, RecursionError):
            payload = None
            text = response.content.decode("utf-8", "replace").strip()
        if isinstance(payload, dict):
            error = payload.get("error")
            candidates = [
                error.get("message") if isinstance(error, dict) else error,
                payload.get("message"),
                payload.get("detail"),
            ]
            text = next((c for c in candidates if isinstance(c, str) and c), "")
            code = error.get("code") if isinstance(error, dict) else None
            if isinstance(code, str) and code and text:
                text = f"{code} {text}"
        return self.scrub(text)

    def json(self, method: str, path: str, response: httpx.Response) -> Any:
        """The decoded JSON body of a successful answer; ChannelRejected when it is not JSON."""
        try:
            return json_codec.loads(response.content)
        except (ValueError, RecursionError):
            snippet = self.scrub(response.content.decode("utf-8", "replace"))[:80]
            raise ChannelRejected(
                f"CUSTOM_HTTP {method} {path}: the shop's answer is not valid JSON ({snippet!r})",
                status=response.status_code,
            ) from None
