"""Inbound webhooks: each channel's delivery protocol behind one interface, and the errors a delivery is refused with.

    ServiceError (app.domain.errors)
    └── WebhookRefused           a delivery that is not stored; `status` is the HTTP answer, `code` says why
        ├── SignatureInvalid     401 CHN-050: no secret configured, a missing, malformed or wrong signature,
        │                        (CUSTOM_HTTP) a timestamp outside the tolerance window, or (Shopify) a
        │                        delivery signed with the shared app secret for another shop
        ├── PayloadInvalid       400 CHN-051: the body or a header is not what the channel's protocol describes
        └── EventUnsupported     422 CHN-052: a topic (or a channel) whose webhooks this service does not handle

A channel's protocol verifies the signature over the raw bytes, in constant
time, before anything is parsed: an unauthenticated body is never even
decoded. It then checks that the delivery is for the connector's own store,
names the delivery (the channel's own id, which replays are deduplicated on),
its topic in the service's vocabulary (`Topic`) and the channel's time of the
change, and it turns a stored payload into the `WebhookEvent` the conflict
checker reads.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any, ClassVar, Protocol

from app.channels.base import WebhookEvent
from app.domain.channels import ChannelType
from app.domain.errors import ErrorCode, ServiceError
from app.domain.storable import lone_surrogate_refused, nests_deeper, nul_paths

Headers = Mapping[str, str]
"""Request headers with lower-case names."""

MAX_DELIVERY_ID_LENGTH = 200
"""Longer ids are refused: the column holds 255 characters, and WooCommerce's ids get a suffix (see there)."""


class Topic(StrEnum):
    """What happened to a product, in the same words for every channel."""

    CREATED = "product.created"
    UPDATED = "product.updated"
    DELETED = "product.deleted"


class WebhookRefused(ServiceError):
    """A delivery the service refuses before storing anything; the channel is told why."""

    status: ClassVar[int] = 400
    code = "WEBHOOK_REFUSED"


class SignatureInvalid(WebhookRefused):
    """The delivery cannot be shown to come from the channel: it is answered 401 and never parsed."""

    status = 401
    code = ErrorCode.WEBHOOK_SIGNATURE_INVALID


class PayloadInvalid(WebhookRefused):
    """The body (or a header the protocol requires) cannot be read as the channel's protocol describes."""

    status = 400
    code = ErrorCode.WEBHOOK_PAYLOAD_INVALID


class EventUnsupported(WebhookRefused):
    """A topic this service does not handle (orders, customers ...), or a channel whose webhooks it cannot read."""

    status = 422
    code = ErrorCode.WEBHOOK_EVENT_UNSUPPORTED


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a verified delivery says about itself, before it is stored."""

    delivery_id: str
    """The channel's id of this delivery; a second delivery with the same id is a replay."""
    topic: Topic
    payload: Any
    """The parsed JSON body, stored as it came so the worker can build the event again."""
    occurred_at: datetime | None
    """The channel's own time of the change, when it says; a delivery older than the state seen is stale."""


class WebhookProtocol(Protocol):
    """How one channel signs, names and shapes its product webhooks."""

    def secret(self, credentials: Mapping[str, Any]) -> str | None:
        """The key deliveries are signed with, from the connector's decrypted credentials; None when unset."""
        ...

    def is_ping(self, headers: Headers, body: bytes) -> bool:
        """Whether this is the channel's unsigned "is this URL alive" check, answered 200 and not stored."""
        ...

    def verify(self, secret: str, body: bytes, headers: Headers, *, now: float) -> None:
        """Raise SignatureInvalid unless `body` carries a valid signature; compares in constant time."""
        ...

    def check_store(self, credentials: Mapping[str, Any], headers: Headers) -> None:
        """Raise WebhookRefused unless the verified delivery is about the store of these credentials.

        A valid signature is not enough where one key signs for several stores:
        a Shopify app's client secret signs the deliveries of every shop that
        installed the app, so only the shop the delivery names tells them apart.
        """
        ...

    def parse(self, body: bytes, headers: Headers) -> Delivery:
        """The verified delivery's id, topic, payload and time; PayloadInvalid or EventUnsupported otherwise.

        Also checks the payload builds an event, so a delivery that could
        never be processed is refused now, while the channel still listens.
        """
        ...

    def event(self, topic: Topic, payload: Any, occurred_at: datetime | None) -> WebhookEvent:
        """The event a stored delivery stands for; PayloadInvalid when the payload lacks what the topic needs."""
        ...


def signatures_match(expected: str, given: str) -> bool:
    """Constant-time comparison; bytes, so a header holding non-ASCII text is simply a mismatch."""
    return hmac.compare_digest(expected.encode("utf-8"), given.strip().encode("utf-8", "replace"))


MAX_NESTING = 64
"""The most levels of arrays and objects a delivery may nest: a product document nests a few (Shopify's variants'
options, a CUSTOM_HTTP shop's locales and fields); the parser reaches some 950, storing it fewer (see load_json)."""
TOO_DEEP = f"the body nests arrays and objects more than {MAX_NESTING} levels deep"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json(body: bytes) -> Any:
    """The body as JSON (UTF-8, RFC 8259); PayloadInvalid for anything else, NaN and Infinity included, and for
    what no database stores (a NUL, half of a character, nesting past MAX_NESTING)."""
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadInvalid(f"the body is not UTF-8 JSON: {exc}"[:300]) from None
    except RecursionError:
        raise PayloadInvalid(TOO_DEEP) from None
    if nests_deeper(value, MAX_NESTING):
        raise PayloadInvalid(TOO_DEEP)
    if nul_paths(value):
        raise PayloadInvalid("the body holds a NUL character (\\u0000), which cannot be stored")
    refused = lone_surrogate_refused(text, value)
    if refused is not None:
        raise PayloadInvalid(refused[:300])
    return value


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """The body as a JSON object; PayloadInvalid naming `what` it should have been."""
    value = load_json(body)
    if not isinstance(value, dict):
        raise PayloadInvalid(f"the body must be a JSON object ({what})")
    return value


def header(headers: Headers, name: str) -> str | None:
    """A header's value, stripped; None when absent or blank."""
    value = headers.get(name.lower(), "").strip()
    return value or None


def delivery_id(headers: Headers, *names: str) -> str:
    """The first of `names` the delivery carries, as its id; PayloadInvalid when none is usable."""
    for name in names:
        value = header(headers, name)
        if value is None:
            continue
        if len(value) > MAX_DELIVERY_ID_LENGTH or not value.isascii() or not value.isprintable():
            raise PayloadInvalid(f"{name} must be printable ASCII of at most {MAX_DELIVERY_ID_LENGTH} characters")
        return value
    raise PayloadInvalid(f"{' or '.join(names)} is required: it is how a resent delivery is recognised")


def text_or_none(value: object) -> str | None:
    """A non-empty string as is; anything else (null, "", a number) as None."""
    return value if isinstance(value, str) and value else None


@cache
def _protocols() -> Mapping[ChannelType, WebhookProtocol]:
    # Imported here rather than at the top: each channel's module builds on the definitions above.
    from app.channels.custom_http.webhooks import CustomHttpWebhooks
    from app.channels.shopify.webhooks import ShopifyWebhooks
    from app.channels.woocommerce.webhooks import WooCommerceWebhooks

    return {
        ChannelType.CUSTOM_HTTP: CustomHttpWebhooks(),
        ChannelType.SHOPIFY: ShopifyWebhooks(),
        ChannelType.WOOCOMMERCE: WooCommerceWebhooks(),
    }


def webhook_secret(channel_type: ChannelType, credentials: Mapping[str, Any]) -> str | None:
    """The key `channel_type`'s deliveries are signed with in these credentials; None when unset, or when this
    version takes no webhooks from the channel."""
    protocol = _protocols().get(channel_type)
    return None if protocol is None else protocol.secret(credentials)


def webhook_protocol(channel_type: ChannelType) -> WebhookProtocol:
    """The protocol of `channel_type`'s webhooks; EventUnsupported for a channel this version cannot read."""
    protocol = _protocols().get(channel_type)
    if protocol is None:
        raise EventUnsupported(f"webhooks from {channel_type.value} are not supported in this version")
    return protocol
