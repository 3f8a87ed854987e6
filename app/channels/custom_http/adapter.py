"""CustomHttpAdapter: the ChannelAdapter for shops that implement the CUSTOM_HTTP protocol.

The protocol's document is the service's own ChannelDocument on the wire
(`sku`, `externalId`, `fields`, `locales`), so mapping is one-to-one; the work
here is keeping the wire exact and checking the shop's answers:

- every key is sent, and a None value is sent as JSON null ("clear this
  field"): dropping it would leave a stale value on the shop forever;
- each document is serialized once and the exact bytes are signed and sent;
  a document that cannot be serialized, or a new product without a field
  the spec requires, fails alone, before anything is sent (check_batch tells
  a dry run the same);
- the shop's batch answer must pair up with what was sent (same count, same
  SKUs, same order), otherwise results would be recorded against the wrong
  products, so a mismatch rejects the whole batch;
- SKU look-ups are split so that no request carries more than 100 SKUs or an
  over-long URL.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from app.channels.base import ChannelDocument, ChannelInfo, ChannelRejected, ItemResult, RateGate, RemoteProduct
from app.channels.custom_http.client import CustomHttpClient, CustomHttpCredentials
from app.channels.custom_http.spec import FIELDS
from app.domain.errors import ErrorCode
from app.domain.storable import NUL

MAX_BATCH_SIZE = 100
MAX_LOCALE_LENGTH = 35
"""The longest channel locale code a connector stores (its locale columns hold 35 characters)."""
"""The protocol's limit on products per POST /products/batch, and on SKUs per GET /products."""
MAX_SKUS_QUERY_LENGTH = 6000
"""Longest encoded `skus=` value per request: 100 long SKUs would pass common 8 KiB request-line limits."""

REQUIRED_FIELDS = tuple(field for field in FIELDS if field.required)
"""What the shop needs to create a product (the channel type's spec): title, in some locale."""

_CHN_CODES: Mapping[str, ErrorCode] = {
    code.value: code
    for code in (
        ErrorCode.MISSING_REQUIRED_FIELD,
        ErrorCode.FIELD_TYPE_MISMATCH,
        ErrorCode.LOCALE_NOT_SUPPORTED,
        ErrorCode.CURRENCY_NOT_SUPPORTED,
        ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL,
        ErrorCode.CREATE_FAILED,
        ErrorCode.UPDATE_FAILED,
    )
}
"""The codes a product's error may carry (the protocol's table, docs/channels/custom_http.md); any other is CHN-022.
The others say something of the shop or the service, not of one product: a product refused with CHN-020 would read
as the shop being busy, and be tried again and again."""


def _json_default(value: object) -> object:
    """Types a mapping pipeline may hand over that JSON lacks: decimals stay exact strings, as the protocol's prices are."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"a {type(value).__name__} cannot be sent as JSON")


def encode_document(document: ChannelDocument) -> bytes:
    """One product as the protocol's JSON object, UTF-8, compact; None values become null, never dropped.

    Raises ValueError or TypeError when the document holds something JSON cannot carry.
    """
    if not isinstance(document.sku, str) or not document.sku:
        raise ValueError("the SKU must be a non-empty string")
    wire = {
        "sku": document.sku,
        "externalId": document.external_id,
        "fields": dict(document.fields),
        "locales": {locale: dict(values) for locale, values in document.locales.items()},
    }
    text = json.dumps(wire, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)
    return text.encode("utf-8")


def _missing_required(document: ChannelDocument) -> str | None:
    """Why the shop cannot create `document`: a required field it lacks (spec.FIELDS; a localizable one must have
    a value in some locale). The PIM holds back a locale whose required field is empty, so a new product whose
    every locale lacks it would go out without it, and the shop refuses it (CHN-010). None: nothing lacking, or
    an update (the shop keeps the values it has)."""
    if document.external_id is not None:
        return None
    for field in REQUIRED_FIELDS:
        places = document.locales.values() if field.localizable else (document.fields,)
        if not any(_present(values.get(field.name)) for values in places):
            where = " in any locale" if field.localizable else ""
            return f"{field.name} is required to create a product and has no value{where}"
    return None


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _prepared(document: ChannelDocument) -> bytes | ItemResult:
    """The document's bytes on the wire, or the failed result of one the protocol refuses before sending."""
    missing = _missing_required(document)
    if missing is not None:
        return _refused(document, ErrorCode.MISSING_REQUIRED_FIELD, missing)
    try:
        return encode_document(document)
    except (TypeError, ValueError) as exc:
        return _refused(document, ErrorCode.FIELD_TYPE_MISMATCH, f"cannot be sent as JSON: {exc}")


def _refused(document: ChannelDocument, code: ErrorCode, message: str) -> ItemResult:
    return ItemResult(sku=str(document.sku), ok=False, external_id=document.external_id, code=code, message=message)


def _external_id(value: object) -> str | None:
    """An externalId as the service stores it; shops with numeric ids may send numbers."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _error_code(value: object) -> ErrorCode:
    return _CHN_CODES.get(value, ErrorCode.CHANNEL_ERROR) if isinstance(value, str) else ErrorCode.CHANNEL_ERROR


_RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ](?P<time>[0-9]{2}:[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?P<fraction>\.[0-9]+)?(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def parse_updated_at(value: object) -> datetime | None:
    """RFC 3339 `updatedAt` as an aware datetime; None when the shop sends none.

    Raises ValueError for anything else, a naive time included (it would
    compare wrongly against the PIM's under NEWEST_WINS). The other ISO 8601
    forms Python would read (basic format, week dates, no seconds, an offset
    without minutes) are refused too: the protocol promises shops exactly RFC
    3339, and a shop that sends something else must learn it from the first
    look-up, not from a stricter reader later. A leap second (:60) is read as
    the last moment of that minute, since datetime has no room for it.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"updatedAt must be an RFC 3339 string, not {type(value).__name__}")
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"updatedAt {value!r} is not RFC 3339 with a UTC offset, such as 2026-01-01T10:00:00.000Z")
    date, clock, second, fraction, offset = match.group("date", "time", "second", "fraction", "offset")
    if second == "60":
        second, fraction = "59", ".999999"
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        return datetime.fromisoformat(f"{date}T{clock}:{second}{(fraction or '')[:7]}{offset}")
    except ValueError:  # a month 13, a 25th hour, an offset of +24:00 ...
        raise ValueError(f"updatedAt {value!r} is not a valid date and time") from None


class CustomHttpAdapter:
    """ChannelAdapter over the CUSTOM_HTTP protocol; one instance per connector (credentials decrypted by the caller).

    Its baseUrl is vetted by whoever builds it (app/channels/factory.build_adapter) and every address it
    connects to by the HTTP client it is given (outbound.PublicAddressBackend). `clock` stamps the signatures
    and exists so tests can skew it.
    """

    max_batch_size: int = MAX_BATCH_SIZE

    def __init__(
        self,
        credentials: Mapping[str, Any],
        http: httpx.AsyncClient,
        *,
        timeout: float,
        clock: Callable[[], float] = time.time,
        gate: RateGate | None = None,
    ) -> None:
        self._client = CustomHttpClient(
            CustomHttpCredentials.parse(credentials),
            http,
            timeout=timeout,
            clock=clock,
            gate=gate,
        )

    def __repr__(self) -> str:
        return f"CustomHttpAdapter(baseUrl={self._client.credentials.base_url!r})"

    def _rejected(self, what: str, detail: str) -> ChannelRejected:
        return ChannelRejected(self._client.scrub(f"CUSTOM_HTTP {what}: {detail}"))

    async def test_connection(self) -> ChannelInfo:
        """GET /info: proves the URL, the signature and the key are accepted, and learns the store's locales."""
        response = await self._client.request("GET", "/info")
        payload = self._client.json("GET", "/info", response)
        if not isinstance(payload, dict):
            raise self._rejected("GET /info", "the answer must be a JSON object")
        store_name = payload.get("storeName")
        locales = payload.get("supportedLocales", [])
        count = payload.get("productCount")
        if store_name is not None and not isinstance(store_name, str):
            raise self._rejected("GET /info", "storeName must be a string")
        if not isinstance(locales, list) or not all(_is_locale_code(code) for code in locales):
            raise self._rejected("GET /info", "supportedLocales must be a list of locale codes")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            raise self._rejected("GET /info", "productCount must be a non-negative integer")
        return ChannelInfo(store_name=store_name, supported_locales=tuple(locales), product_count=count)

    async def export_batch(self, documents: Sequence[ChannelDocument]) -> list[ItemResult]:
        """POST /products/batch: create (externalId null) or partially update each document; results in order.

        More than `max_batch_size` documents is the caller's bug (the engine
        chunks by max_batch_size), so it raises ValueError before anything is sent.
        """
        if len(documents) > self.max_batch_size:
            raise ValueError(
                f"CUSTOM_HTTP takes at most {self.max_batch_size} products per batch, got {len(documents)}"
            )
        results: list[ItemResult | None] = [None] * len(documents)
        fragments: list[bytes] = []
        sent: list[tuple[int, ChannelDocument]] = []
        for index, document in enumerate(documents):
            prepared = _prepared(document)
            if isinstance(prepared, ItemResult):
                results[index] = prepared
                continue
            fragments.append(prepared)
            sent.append((index, document))
        if sent:
            body = b'{"products":[' + b",".join(fragments) + b"]}"
            response = await self._client.request("POST", "/products/batch", body=body)
            payload = self._client.json("POST", "/products/batch", response)
            answers = self._batch_results(payload, [document for _, document in sent])
            for (index, _), result in zip(sent, answers, strict=True):
                results[index] = result
        return [result for result in results if result is not None]

    async def check_batch(self, documents: Sequence[ChannelDocument]) -> list[ItemResult | None]:
        """What export_batch refuses before sending (`_prepared`): a new product lacking a field the protocol
        requires, a document JSON cannot carry. Reads nothing. What the shop refuses on receipt (a locale it
        has not enabled, its own rules) is known only once sent."""
        return [prepared if isinstance(prepared, ItemResult) else None for prepared in map(_prepared, documents)]

    def _batch_results(self, payload: object, documents: Sequence[ChannelDocument]) -> list[ItemResult]:
        what = "POST /products/batch"
        raw = payload.get("results") if isinstance(payload, dict) else None
        if not isinstance(raw, list):
            raise self._rejected(what, 'the answer must be {"results": [...]}')
        if len(raw) != len(documents):
            raise self._rejected(what, f"{len(documents)} products sent but {len(raw)} results received")
        results: list[ItemResult] = []
        for position, (document, item) in enumerate(zip(documents, raw, strict=True)):
            if not isinstance(item, dict) or item.get("sku") != document.sku:
                raise self._rejected(
                    what,
                    f"result {position} does not belong to {document.sku!r}; results must follow the products' order",
                )
            results.append(self._item_result(document, item, position))
        return results

    def _item_result(self, document: ChannelDocument, item: Mapping[str, Any], position: int) -> ItemResult:
        status = item.get("status")
        if status == "ok":
            external_id = _external_id(item.get("externalId")) or document.external_id
            if external_id is None:
                # Created but unbound: a later export looks the SKU up before creating, so no duplicate follows.
                return ItemResult(
                    sku=document.sku,
                    ok=False,
                    code=ErrorCode.CREATE_FAILED,
                    message="the shop answered ok without the new product's externalId",
                )
            return ItemResult(sku=document.sku, ok=True, external_id=external_id)
        if status == "error":
            error = item.get("error")
            error = error if isinstance(error, dict) else {}
            message = error.get("message")
            locale = error.get("locale")
            return ItemResult(
                sku=document.sku,
                ok=False,
                external_id=document.external_id,
                code=_error_code(error.get("code")),
                message=self._client.scrub(message) if isinstance(message, str) and message else "the shop refused it",
                locale=locale if isinstance(locale, str) and locale else None,
            )
        raise self._rejected("POST /products/batch", f"result {position} has status {status!r}, not 'ok' or 'error'")

    async def fetch_products(self, skus: Sequence[str]) -> dict[str, RemoteProduct]:
        """GET /products?skus=...: the shop's current state of these SKUs; a SKU it lacks is absent.

        A SKU holding a comma cannot be asked for (the list is comma-separated)
        and raises ChannelRejected rather than being reported absent, which the
        engine would take as "not on the shop" and create a duplicate.
        """
        wanted = list(dict.fromkeys(skus))
        for sku in wanted:
            if not isinstance(sku, str) or not sku:
                raise ValueError("SKUs must be non-empty strings")
            if "," in sku:
                raise self._rejected(
                    "GET /products", f"the SKU {sku!r} holds a comma, which the skus= list cannot carry"
                )
        found: dict[str, RemoteProduct] = {}
        for chunk in _sku_chunks(wanted):
            path = "/products?skus=" + ",".join(quote(sku, safe="") for sku in chunk)
            response = await self._client.request("GET", path)
            payload = self._client.json("GET", "/products", response)
            found.update(self._remote_products(payload, set(chunk)))
        return found

    def _remote_products(self, payload: object, asked: set[str]) -> dict[str, RemoteProduct]:
        what = "GET /products"
        raw = payload.get("products") if isinstance(payload, dict) else None
        if not isinstance(raw, list):
            raise self._rejected(what, 'the answer must be {"products": [...]}')
        found: dict[str, RemoteProduct] = {}
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("sku"), str):
                raise self._rejected(what, "every product needs a sku")
            sku: str = item["sku"]
            if sku not in asked:
                continue  # not ours to report; a shop that matches loosely must not bind the wrong product
            if sku in found:
                raise self._rejected(what, f"the SKU {sku!r} appears twice")
            external_id = _external_id(item.get("externalId"))
            fields = item.get("fields", {})
            locales = item.get("locales", {})
            if external_id is None:
                raise self._rejected(what, f"{sku!r} has no externalId")
            if not isinstance(fields, dict):
                raise self._rejected(what, f"{sku!r}: fields must be an object")
            if not isinstance(locales, dict) or not all(isinstance(v, dict) for v in locales.values()):
                raise self._rejected(what, f"{sku!r}: locales must map each locale to an object")
            try:
                updated_at = parse_updated_at(item.get("updatedAt"))
            except ValueError as exc:
                raise self._rejected(what, f"{sku!r}: {exc}") from None
            found[sku] = RemoteProduct(
                sku=sku, external_id=external_id, fields=fields, locales=locales, updated_at=updated_at
            )
        return found

    async def delete_product(self, external_id: str) -> None:
        """DELETE /products/{externalId}. A 404 counts as done: the product is gone either way, and a retry
        after a lost 204 must not fail."""
        if not external_id:
            raise ValueError("external_id must not be empty")
        path = "/products/" + quote(external_id, safe="")
        await self._client.request("DELETE", path, accept=frozenset({404}))


def _sku_chunks(skus: Sequence[str]) -> Iterator[list[str]]:
    """At most MAX_BATCH_SIZE SKUs and MAX_SKUS_QUERY_LENGTH encoded characters per request."""
    chunk: list[str] = []
    length = 0
    for sku in skus:
        size = len(quote(sku, safe="")) + 1
        if chunk and (len(chunk) == MAX_BATCH_SIZE or length + size > MAX_SKUS_QUERY_LENGTH):
            yield chunk
            chunk, length = [], 0
        chunk.append(sku)
        length += size
    if chunk:
        yield chunk


def _is_locale_code(code: object) -> bool:
    """A channel locale code the service can store and map: text, at most 35 characters (BCP 47's longest
    practical tag), no NUL."""
    return isinstance(code, str) and 0 < len(code) <= MAX_LOCALE_LENGTH and NUL not in code
