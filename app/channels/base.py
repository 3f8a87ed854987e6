"""The one protocol every channel adapter speaks, and the errors it raises.

An adapter is built per connector with its decrypted credentials and an httpx
client; it translates between channel documents (below) and the channel's own
API. Adapters never see the database: services hand them documents and record
what comes back. Capabilities only some channels have are protocols of their
own (WebhookRegistrar), checked with isinstance, so no adapter carries a
method that does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from app.domain.errors import ErrorCode

MESSAGE_LIMIT = 500
"""Longest channel text kept in a message: what a shop answers is quoted in job errors, logs and exceptions, and a
shop may answer anything, of any size."""
REDACTED = "[redacted]"


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with each of the connector's `secrets` replaced, then cut to MESSAGE_LIMIT: for any channel text that
    may reach a message or a log. Replaced in the whole text before the cut, so a secret the cut would halve is
    still found."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text[:MESSAGE_LIMIT]


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """What a connection test learns about the store."""

    store_name: str | None
    supported_locales: tuple[str, ...]
    """The channel locales a connector may map and export to (a store's unpublished languages included when
    the channel accepts content in them)."""
    product_count: int | None = None
    primary_locale: str | None = None
    currencies: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    """What a person should know though the store answered (the store served another API version than the one
    pinned): the test's message says it."""


@dataclass(frozen=True, slots=True)
class ChannelDocument:
    """One product as the channel should hold it.

    `fields` holds non-localizable channel fields, `locales` the localizable
    ones per channel locale. A key present with value None means "clear this
    field on the channel"; a key absent means "leave the channel's value alone".
    """

    sku: str
    external_id: str | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    locales: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    unchanged: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Localizable values of an update that the channel already holds and the sync leaves as they are (its own
    values), per channel locale: not to be written. A channel that ties a translation to its source text (Shopify marks it outdated once
    the primary locale's value changes) registers them again when the document changes that source."""


@dataclass(frozen=True, slots=True)
class RemoteProduct:
    """A product as the channel holds it now."""

    sku: str
    external_id: str
    fields: Mapping[str, Any]
    locales: Mapping[str, Mapping[str, Any]]
    updated_at: datetime | None
    """The channel's own modification time, when it gives one: the latest change of anything mapped."""
    record_updated_at: datetime | None = None
    """The time the channel's webhook deliveries carry for this product, where it differs from `updated_at`
    (Shopify: the product's updatedAt, which a translation edit leaves where it was); see `delivery_time`."""

    @property
    def delivery_time(self) -> datetime | None:
        """The state's time on the clock deliveries are stamped with: a delivery older than it is stale.

        Not `updated_at` where a channel keeps some values' times elsewhere: a
        delivery sent after a Shopify translation edit carries the product's
        older updatedAt, and must not be judged stale against the translation's time.
        """
        return self.record_updated_at if self.record_updated_at is not None else self.updated_at


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """What one verified webhook delivery says happened to one product."""

    topic: str
    """Normalised across channels: "product.created", "product.updated" or "product.deleted"."""
    sku: str | None
    external_id: str | None
    occurred_at: datetime | None
    """The channel's own time of the change, when it says; stale deliveries are recognised by it."""
    product: RemoteProduct | None = None
    """The product's state as the delivery carries it, when complete enough to compare (every mapped field
    and locale); None: the processor reads the current state from the channel."""


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The channel's answer for one product of a batch, in the order sent."""

    sku: str
    ok: bool
    external_id: str | None = None
    code: ErrorCode | None = None
    message: str | None = None
    locale: str | None = None
    """The channel locale the error concerns, when the channel says so."""


class ChannelError(Exception):
    """A request to the channel failed as a whole; `code` says how."""

    code: ErrorCode = ErrorCode.CHANNEL_ERROR
    transient: bool = False
    retry_after: float | None = None
    """The wait the channel asked for (a 429's or 503's Retry-After); None when it named none."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def summary(self) -> str:
        """The code and the message, as people read a failure on a job, a connector or a conflict."""
        return f"{self.code}: {self.message}"


class ChannelRateLimited(ChannelError):
    """429: wait `retry_after` seconds; waiting does not use up a retry."""

    code = ErrorCode.RATE_LIMITED
    transient = True

    def __init__(self, message: str, *, retry_after: float | None, status: int | None = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ChannelUnavailable(ChannelError):
    """5xx or a refused connection; `retry_after`: the wait the channel asked for (a 503's Retry-After), if any."""

    code = ErrorCode.CHANNEL_UNAVAILABLE
    transient = True

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ChannelTimeout(ChannelError):
    code = ErrorCode.TIMEOUT
    transient = True


class ChannelRejected(ChannelError):
    """The channel refused the request (4xx other than 401/403/429): retrying it will not help."""

    code = ErrorCode.CHANNEL_ERROR


class CredentialsRejected(ChannelError):
    """401/403 or a failed connection test: the connector needs its credentials fixed."""

    code = ErrorCode.CONNECTION_TEST_FAILED


@dataclass(frozen=True, slots=True)
class RateSignal:
    """What a channel said about its limit in one answer; fields it did not say are None.

    Shopify reports a cost bucket (extensions.cost.throttleStatus:
    currentlyAvailable, maximumAvailable, restoreRate); REST channels send
    Retry-After, and some X-RateLimit-Remaining/Reset headers.
    """

    retry_after: float | None = None
    available: float | None = None
    capacity: float | None = None
    restore_rate: float | None = None
    """Units regained per second."""


class RateGate(Protocol):
    """The connector's shared rate limit: every request waits for its cost, every answer reports back."""

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until `cost` units are available in the connector's bucket, then take them."""
        ...

    async def observe(self, signal: RateSignal) -> None:
        """Adjust the bucket to what the channel says (a 429's Retry-After pauses every worker)."""
        ...


class ChannelAdapter(Protocol):
    """What the sync engine and the connector services need from a channel."""

    max_batch_size: int

    async def test_connection(self) -> ChannelInfo:
        """Reach the store with the connector's credentials; raise CredentialsRejected when refused."""
        ...

    async def export_batch(self, documents: Sequence[ChannelDocument]) -> list[ItemResult]:
        """Create or update up to `max_batch_size` products; one result per document, in order."""
        ...

    async def check_batch(self, documents: Sequence[ChannelDocument]) -> list[ItemResult | None]:
        """What `export_batch` would refuse of each document before sending it (the failed ItemResult it would
        give, same code and message), None where it would send it; one entry per document, in order, any number.

        `export_batch` runs these same checks first, so a dry run that calls this tells what the real run will
        refuse: the channel's documented rules (a required field, a value of the wrong type, an unknown locale).
        A document is created when its external_id is None. It may read the store's settings, never writes. What
        only the channel can tell on receipt (a refusal its documentation does not state, a SKU taken meanwhile)
        stays unknown until the real run sends it.
        """
        ...

    async def fetch_products(self, skus: Sequence[str]) -> dict[str, RemoteProduct]:
        """The channel's current state of these SKUs; a SKU the channel lacks is absent."""
        ...

    async def delete_product(self, external_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class WebhookRegistration:
    """What subscribing a connector's product webhooks found and did."""

    callback_url: str
    created: tuple[str, ...]
    """Topics subscribed by this call, in the channel's own names (PRODUCTS_UPDATE ...)."""
    existing: tuple[str, ...]
    """Topics that already delivered to `callback_url`; nothing was sent for them."""
    secret_configured: bool
    """Whether the connector holds the secret deliveries are verified with; without it every delivery is refused."""


@runtime_checkable
class WebhookRegistrar(Protocol):
    """An optional adapter capability: the service subscribes the channel's product webhooks itself.

    Checked with isinstance(adapter, WebhookRegistrar). Channels whose shop
    configures its own webhooks (CUSTOM_HTTP, per its protocol) do not
    implement it.
    """

    async def register_webhooks(self, callback_url: str) -> WebhookRegistration:
        """Subscribe the product topics to `callback_url`, creating only what is missing, so calling it again
        creates nothing; ChannelError when the channel refuses (CHN-022 with the channel's message)."""
        ...

    async def unregister_webhooks(self, callback_url: str) -> tuple[str, ...]:
        """Delete the product-topic subscriptions delivering to `callback_url`; the topics deleted. One already
        gone is not an error, so calling it again deletes nothing; ChannelError when the channel refuses."""
        ...

    async def webhook_callbacks(self) -> tuple[str, ...]:
        """Every address the product topics are delivered to, for this service and any other (the caller
        picks out its own), so subscriptions left at an old address can be found."""
        ...
