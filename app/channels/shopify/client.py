"""The Admin GraphQL transport of one shop, and the mapping of its answers onto the ChannelError tree.

    ChannelError (app/channels/base.py)
    ├── ChannelRateLimited   HTTP 429 (Retry-After), or a THROTTLED error: the cost bucket is empty
    ├── ChannelUnavailable   5xx, a refused or dropped connection, INTERNAL_SERVER_ERROR
    ├── ChannelTimeout       no answer within the connector's timeout
    ├── ChannelRejected      any other GraphQL error or unreadable answer (too large, not its encoding): retrying
    │                        will not help
    └── CredentialsRejected  401/403, ACCESS_DENIED (a missing scope), 402/423 (shop frozen or locked),
        │                    404 (no Admin API at that address): the connector needs fixing
        └── InvalidCredentials   the stored credentials lack the right shape (CHN-002); nothing was sent

This layer knows GraphQL over HTTP and Shopify's throttling, nothing about
products. Before each request it takes the document's expected cost from the
connector's RateGate; after each answer it reports extensions.cost.
throttleStatus back, so every worker shares Shopify's own view of the bucket.
It never retries: the sync engine owns retry policy, and a THROTTLED answer
carries how long to wait ((requestedQueryCost - currentlyAvailable) /
restoreRate, shopify.dev "API rate limits") so waiting does not use a retry.

Shopify serves a retired version from the oldest version it still supports,
without failing, and names the version that answered in X-Shopify-API-Version
(shopify.dev "About Shopify API versioning"). A version other than the pinned
one is kept in `served_version`, logged once per connector and process (each
chunk, webhook check and resolution has a client of its own, and warned anew:
up to four times a job, for one fact about the shop), and named in the
messages of answers that could not be read.

The access token (and webhook secret) never appear in a message or a log:
text Shopify sends back is scrubbed of them too.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

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
from app.channels.custom_http.client import parse_retry_after
from app.channels.retry import MIN_THROTTLE_WAIT
from app.channels.shopify.documents import Operation
from app.channels.shopify.schemas import JsonObject, UserError, obj, parse_user_errors
from app.channels.shopify.spec import API_VERSION
from app.channels.transport import CHANGES_NOTHING, failure_in_words
from app.domain.credentials import header_safe
from app.domain.errors import ErrorCode

log = structlog.get_logger(__name__)

T = TypeVar("T")

USER_AGENT: Final = "pimsync (Shopify channel)"
_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_LOCATION_ID = re.compile(r"^gid://shopify/Location/[0-9]+$")
_VERSION_LENGTH: Final = 40
"""The most of an X-Shopify-API-Version header kept (a version is 7 characters, "unstable" 8)."""
_VERSION_SAID: dict[str, str] = {}
"""The other version this process last logged, per connector (its public id): said again only when it changes."""


class InvalidCredentials(CredentialsRejected):
    """The stored credentials do not have the shape spec.CREDENTIALS_SCHEMA asks for (CHN-002): nothing was sent."""

    code = ErrorCode.INVALID_CREDENTIALS_FORMAT


@dataclass(frozen=True, slots=True)
class ShopifyCredentials:
    """`{"shopDomain", "accessToken", "apiVersion"?, "locationId"?, "webhookSecret"?}`, validated; secrets not in repr()."""

    shop_domain: str
    access_token: str = field(repr=False)
    location_id: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ShopifyCredentials:
        """Validate the decrypted credentials; InvalidCredentials names the field, never its value."""
        domain = raw.get("shopDomain")
        if not isinstance(domain, str) or not _SHOP_DOMAIN.fullmatch(domain):
            raise InvalidCredentials("credentials: shopDomain must be the shop's my-store.myshopify.com domain")
        token = raw.get("accessToken")
        if not isinstance(token, str) or not header_safe(token):
            raise InvalidCredentials("credentials: accessToken must be visible ASCII: it is sent in an HTTP header")
        version = raw.get("apiVersion", API_VERSION)
        if version != API_VERSION:
            raise InvalidCredentials(f"credentials: apiVersion must be {API_VERSION}, the version this service speaks")
        location = raw.get("locationId")
        if location is not None and (not isinstance(location, str) or not _LOCATION_ID.fullmatch(location)):
            raise InvalidCredentials("credentials: locationId must look like gid://shopify/Location/123")
        secret = raw.get("webhookSecret")
        if secret is not None and not isinstance(secret, str):
            raise InvalidCredentials("credentials: webhookSecret must be a string")
        return cls(shop_domain=domain, access_token=token, location_id=location, webhook_secret=secret or None)

    @property
    def default_endpoint(self) -> str:
        return f"https://{self.shop_domain}/admin/api/{API_VERSION}/graphql.json"


def throttle_signal(payload: JsonObject) -> RateSignal | None:
    """extensions.cost.throttleStatus as a RateSignal; None when the answer carries none."""
    cost = payload.get("extensions", {}).get("cost") if isinstance(payload.get("extensions"), dict) else None
    status = cost.get("throttleStatus") if isinstance(cost, dict) else None
    if not isinstance(status, dict):
        return None

    def number(key: str) -> float | None:
        value = status.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    return RateSignal(
        available=number("currentlyAvailable"),
        capacity=number("maximumAvailable"),
        restore_rate=number("restoreRate"),
    )


def throttled_wait(payload: JsonObject, signal: RateSignal | None) -> float | None:
    """Seconds until the bucket holds the throttled query's cost again: (requested - available) / restoreRate."""
    cost = payload.get("extensions", {}).get("cost") if isinstance(payload.get("extensions"), dict) else None
    requested = cost.get("requestedQueryCost") if isinstance(cost, dict) else None
    if signal is None or signal.available is None or not signal.restore_rate:
        return None
    if not isinstance(requested, int | float) or isinstance(requested, bool):
        return 1.0 / signal.restore_rate if signal.restore_rate > 0 else None
    return max(float(requested) - signal.available, 0.0) / signal.restore_rate


def _error_codes(errors: list[Any]) -> list[str]:
    codes = []
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.append(code if isinstance(code, str) else "")
    return codes


_SAID_ITEMS: Final = 10
"""The most entries of one list or object _said reads: the message is cut to base.MESSAGE_LIMIT anyway."""


def _said(errors: object, depth: int = 0) -> str:
    """Shopify's words in an `errors` value of whichever shape it sends: a string ("Not Found"), a list of GraphQL
    errors or of strings, or an object of field -> message or messages ({"query": ["Required parameter missing or
    invalid"]}, as its 400 answers carry), so a failed answer's message keeps what Shopify said."""
    if isinstance(errors, str):
        return errors
    if depth > 2 or errors is None:
        return ""
    if isinstance(errors, dict):
        if isinstance(errors.get("message"), str):
            return str(errors["message"])
        pairs = ((key, _said(value, depth + 1)) for key, value in list(errors.items())[:_SAID_ITEMS])
        return "; ".join(f"{key}: {words}" if words else str(key) for key, words in pairs)
    if isinstance(errors, list):
        return "; ".join(filter(None, (_said(entry, depth + 1) for entry in errors[:_SAID_ITEMS])))
    return json.dumps(errors)  # a number or a boolean


class ShopifyClient:
    """One shop's Admin GraphQL endpoint: `execute()` returns a document's `data` or raises a ChannelError."""

    def __init__(
        self,
        credentials: ShopifyCredentials,
        http: httpx.AsyncClient,
        *,
        timeout: float,
        gate: RateGate | None = None,
        endpoint: str | None = None,
        connector: str | None = None,
    ) -> None:
        """`connector`, the connector's public id, has a version other than the pinned one logged once for it
        in this process; a client of no connector yet (a connection test) logs it once itself."""
        self.credentials = credentials
        self.connector = connector
        self.endpoint = endpoint or credentials.default_endpoint
        self._http = http
        self._timeout = httpx.Timeout(timeout)
        self._gate = gate
        self.served_version: str | None = None
        """The version Shopify said served its answers, when not the pinned API_VERSION (a retired one)."""

    def version_note(self) -> str:
        """What a person should know about the version answering: empty while it is the pinned one."""
        if self.served_version is None:
            return ""
        return (
            f"Shopify answered with Admin API version {self.served_version} instead of the pinned {API_VERSION} "
            "(it serves a retired version from the oldest one it still supports)"
        )

    def scrub(self, message: str) -> str:
        """`message` without the connector's secrets, cut (base.scrub): for anything that may reach a message or a log."""
        return scrub(message, (self.credentials.access_token, self.credentials.webhook_secret))

    async def execute(self, operation: Operation, variables: Mapping[str, Any] | None = None) -> JsonObject:
        """Send one document; its `data` object, or the ChannelError the answer stands for."""
        body = json.dumps(
            {"query": operation.text, "operationName": operation.name, "variables": dict(variables or {})},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        if self._gate is not None:
            await self._gate.acquire(operation.estimate(variables or {}))
        response = await self._post(operation.name, body, changes_nothing=operation.changes_nothing)
        if not response.is_success:
            raise await self._status_error(operation.name, response)
        payload = self._json(operation.name, response)
        signal = throttle_signal(payload)
        errors = payload.get("errors")
        if errors:
            raise await self._graphql_error(operation.name, payload, errors, signal)
        if signal is not None and self._gate is not None:
            await self._gate.observe(signal)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise ChannelRejected(
                self._noted(f"Shopify {operation.name}: the answer has no data object"), status=response.status_code
            )
        return data

    async def data(self, operation: Operation, variables: Mapping[str, Any], read: Callable[[JsonObject], T]) -> T:
        """Send one document and read its answer; an answer of the wrong shape is ChannelRejected."""
        data = await self.execute(operation, variables)
        try:
            return read(data)
        except ValueError as exc:  # ShapeError included
            raise ChannelRejected(self._noted(f"Shopify {operation.name}: unexpected answer: {exc}")) from None

    async def pages(
        self, operation: Operation, variables: Mapping[str, Any], read: Callable[[JsonObject], tuple[T, str | None]]
    ) -> AsyncIterator[T]:
        """Every page of a connection from its first, each read as `data()` reads an answer: `read` returns what the
        page holds and the cursor of the next page (None on the last), which is sent back as `after`."""
        after: str | None = None
        while True:
            found, after = await self.data(operation, {**variables, "after": after}, read)
            yield found
            if after is None:
                return

    async def mutation_errors(self, operation: Operation, root: str, variables: Mapping[str, Any]) -> list[UserError]:
        """Send one mutation; the userErrors of its payload (`data[root]`), read as data() reads any answer."""

        def read(data: JsonObject) -> list[UserError]:
            return parse_user_errors(obj(data.get(root), root).get("userErrors"), root)

        return await self.data(operation, variables, read)

    async def _post(self, name: str, body: bytes, *, changes_nothing: bool) -> httpx.Response:
        headers = {
            "X-Shopify-Access-Token": self.credentials.access_token,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        started = time.perf_counter()
        try:
            response = await self._http.post(
                self.endpoint,
                content=body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
                extensions={CHANGES_NOTHING: True} if changes_nothing else None,
            )
        except httpx.TimeoutException as exc:
            raise ChannelTimeout(
                f"Shopify {name}: no answer within {self._timeout.read}s ({type(exc).__name__})"
            ) from None
        except httpx.DecodingError as exc:  # too large, or not the encoding it claims: sending it again will not help
            raise ChannelRejected(self.scrub(f"Shopify {name}: unreadable answer: {exc}")) from None
        except httpx.RequestError as exc:
            log.warning("shopify.no_answer", detail=self.scrub(f"{type(exc).__name__}: {exc}"))
            raise ChannelUnavailable(self.scrub(f"Shopify {name}: {failure_in_words(exc)}")) from None
        log.debug(
            "shopify.request",
            operation=name,
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        self._note_version(response.headers.get("X-Shopify-API-Version"))
        return response

    def _note_version(self, served: str | None) -> None:
        """Keep a version other than the pinned one that served an answer, and log it once for the connector in
        this process: every later answer, of this run or another, says the same."""
        if served is None or served == API_VERSION:
            return
        served = self.scrub(served)[:_VERSION_LENGTH]
        if served == self.served_version:
            return
        self.served_version = served
        if self.connector is not None:
            if _VERSION_SAID.get(self.connector) == served:
                return
            _VERSION_SAID[self.connector] = served
        log.warning(
            "shopify.api_version_served",
            shop=self.credentials.shop_domain,
            connector=self.connector,
            pinned=API_VERSION,
            served=served,
        )

    def _noted(self, message: str) -> str:
        """`message` of an answer that could not be used, scrubbed, with the version note first when there is one:
        an answer of another version than the pinned one may be why, and a cut must not drop the note."""
        note = self.version_note()
        return self.scrub(f"{note}: {message}" if note else message)

    async def _status_error(self, name: str, response: httpx.Response) -> ChannelError:
        status = response.status_code
        detail = self._detail(response)
        message = self.scrub(f"Shopify {name} answered {status}" + (f": {detail}" if detail else ""))
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=time.time())
            if self._gate is not None:  # every worker pauses; MIN_THROTTLE_WAIT when the 429 names no wait (or 0)
                await self._gate.observe(RateSignal(retry_after=retry_after or MIN_THROTTLE_WAIT))
            return ChannelRateLimited(message, retry_after=retry_after, status=status)
        if status in (401, 403):
            return CredentialsRejected(message, status=status)
        if status in (402, 423):  # the shop is frozen (unpaid) or locked: the connector cannot work until fixed
            return CredentialsRejected(message, status=status)
        if status == 404:
            return CredentialsRejected(f"{message} (no Admin API at this shop domain)", status=status)
        if status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now=time.time())
            return ChannelUnavailable(message, status=status, retry_after=retry_after)
        return ChannelRejected(message, status=status)

    async def _graphql_error(
        self, name: str, payload: JsonObject, errors: object, signal: RateSignal | None
    ) -> ChannelError:
        entries = errors if isinstance(errors, list) else [errors]
        codes = _error_codes(entries)
        messages = "; ".join(
            str(entry.get("message")) if isinstance(entry, dict) else str(entry) for entry in entries[:3]
        )
        message = self.scrub(f"Shopify {name}: {messages}")
        if signal is not None and self._gate is not None:
            # With THROTTLED too: the status is Shopify's bucket itself, so ours, brought to it, makes every
            # worker wait (cost - currentlyAvailable) / restoreRate. A Retry-After block on top emptied the
            # bucket when it ended, and the retried request waited its whole cost a second time.
            await self._gate.observe(signal)
        if "THROTTLED" in codes:
            return ChannelRateLimited(message, retry_after=throttled_wait(payload, signal), status=200)
        if "ACCESS_DENIED" in codes:
            return CredentialsRejected(f"{message} (the access token lacks a scope this needs)", status=200)
        if "INTERNAL_SERVER_ERROR" in codes:
            return ChannelUnavailable(message, status=200)
        return ChannelRejected(self._noted(message), status=200)

    def _detail(self, response: httpx.Response) -> str:
        try:
            payload = json_codec.loads(response.content) if response.content else None
        except (ValueError, RecursionError):
            return response.content.decode("utf-8", "replace").strip()  # whole: the caller scrubs, then cuts
        return _said(payload.get("errors")) if isinstance(payload, dict) else ""

    def _json(self, name: str, response: httpx.Response) -> JsonObject:
        try:
            payload = json_codec.loads(response.content)
        except (ValueError, RecursionError):
            snippet = self.scrub(response.content.decode("utf-8", "replace"))[:80]
            raise ChannelRejected(
                f"Shopify {name}: the answer is not JSON ({snippet!r})", status=response.status_code
            ) from None
        if not isinstance(payload, dict):
            raise ChannelRejected(f"Shopify {name}: the answer is not a JSON object", status=response.status_code)
        return payload
