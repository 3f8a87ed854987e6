"""HMAC-SHA256 request signatures, as the CUSTOM_HTTP protocol defines them (docs/channels/custom_http.md).

    X-Pimsync-Timestamp: <unix seconds>
    X-Pimsync-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>

The same scheme signs what the service sends to a shop and what a shop sends
to the service's webhook endpoint, so both directions share this module. The
timestamp is part of the signed message so a captured request cannot be
replayed once it leaves the tolerance window; the raw body (not a re-encoded
parse of it) is signed because any two JSON encoders disagree on whitespace
and escaping.

Verification never raises: a receiver only needs "accept or reject", and a
malformed header is just one more way for a request to be unauthentic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

TIMESTAMP_HEADER = "X-Pimsync-Timestamp"
SIGNATURE_HEADER = "X-Pimsync-Signature"
DELIVERY_HEADER = "X-Pimsync-Delivery"
"""Webhooks only: the shop's unique id of a delivery, the key replays are deduplicated on."""

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300
"""How far (either way) a timestamp may be from the receiver's clock."""

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
"""ASCII digits only: int() would also take '+1', ' 1 ', '1_0' and non-ASCII digits."""
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")


def base64_hmac_sha256(secret: str, body: bytes) -> str:
    """The base64 HMAC-SHA256 of a raw body keyed with `secret`: how Shopify (X-Shopify-Hmac-Sha256) and
    WooCommerce (X-WC-Webhook-Signature) sign their webhook deliveries."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp`: "sha256=<lowercase hex>"."""
    return SIGNATURE_PREFIX + _digest(secret, body, timestamp)


def signature_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    """Both signature headers for `body`, stamped with `now` (unix seconds, truncated to whole seconds).

    `now` is passed in rather than read here so callers (and tests) own the clock.
    """
    timestamp = int(now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, body, timestamp)}


def verify(
    secret: str,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Whether `body` carries a valid signature made with `secret` within `tolerance` seconds of `now`.

    Missing or malformed headers, a timestamp more than `tolerance` seconds
    away (past or future: clocks drift both ways) and a wrong signature all
    give False. The comparison is constant-time so the answer leaks nothing
    about how much of a forged signature was right.
    """
    if timestamp_header is None or signature_header is None:
        return False
    timestamp_text = timestamp_header.strip()
    if not _TIMESTAMP.fullmatch(timestamp_text):
        return False
    match = _SIGNATURE.fullmatch(signature_header.strip())
    if match is None:
        return False
    timestamp = int(timestamp_text)
    if abs(now - timestamp) > tolerance:
        return False
    expected = _digest(secret, body, timestamp)
    return hmac.compare_digest(expected, match.group(1).lower())
