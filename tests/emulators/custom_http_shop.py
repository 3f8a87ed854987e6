"""A reference shop that implements the CUSTOM_HTTP protocol (docs/channels/custom_http.md) and enforces it.

It is written from the protocol, not from the service's code: signature
verification is reimplemented here (app.channels.signing is deliberately not
imported), so a bug in the service's signing fails the tests instead of
agreeing with itself. It is strict where the protocol is precise (every
request signed within 300 s, the bearer key, the exact document keys, at most
100 products) and behaves like a real shop where the protocol leaves things to
the shop: its own per-product validation (a title in at least one locale,
prices as decimal strings, its supported locales), its own ids ("p-<n>"), and
partial updates (a key absent leaves the stored value, a null clears it).

For tests it also keeps a log of every request, can be told to answer the
next requests with 429/503 or to answer slowly, can be edited "from the shop's
admin" to create drift, and signs webhooks the way a shop would send them.
With `reformat` it stores what the API writes the way many shops' editors do,
not byte for byte (see `stored_form`), so a later read differs from what was sent.

    shop = CustomHttpShop(signing_secret="s" * 32)
    transport = httpx.ASGITransport(app=shop.app)          # in-process
    with serve(shop.app) as origin: base_url = origin + shop.base_path   # real HTTP
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DOCUMENT_KEYS = frozenset({"sku", "externalId", "fields", "locales"})
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DIGITS = re.compile(r"[0-9]{1,15}")
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")
_PRICE_FIELDS = ("price", "compareAtPrice")


@dataclass
class LoggedRequest:
    """One request as the shop saw it, for assertions."""

    method: str
    path: str
    """Relative to the shop's base path: "/info", "/products/batch", "/products/p-1"."""
    raw_query: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    json: Any = None
    """The parsed body; None when there is none or it is not JSON."""
    status: int = 0
    """What the shop answered."""
    received: float = field(default_factory=time.monotonic)
    """When the shop got it (time.monotonic), to check the pace requests came at."""


@dataclass
class StoredProduct:
    sku: str
    external_id: str
    fields: dict[str, Any]
    locales: dict[str, dict[str, Any]]
    updated_at: datetime

    def document(self) -> dict[str, Any]:
        """The protocol's product document, as GET /products and webhooks carry it."""
        return {
            "sku": self.sku,
            "externalId": self.external_id,
            "fields": json.loads(json.dumps(self.fields)),
            "locales": json.loads(json.dumps(self.locales)),
            "updatedAt": rfc3339(self.updated_at),
        }


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: str | None
    only: str | None = None
    """ "POST /products/batch": only requests to that endpoint are answered with the fault."""


class _Refused(Exception):
    """Ends a request with an HTTP error answer."""

    def __init__(self, status: int, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


class _ItemError(Exception):
    """One product of a batch fails; the others go on."""

    def __init__(self, code: str, message: str, locale: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.locale = locale


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def shop_signature(secret: str, body: bytes, timestamp: str) -> str:
    """HMAC-SHA256(secret, timestamp + "." + body), written from the protocol text."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def stored_form(key: str, value: Any) -> Any:
    """How a reformatting shop stores a written value: prices in their shortest form ("115.50" -> "115.5",
    "115.00" -> "115"), and a description written as bare text wrapped in a paragraph, as rich-text
    editors do ("Solid oak" -> "<p>Solid oak</p>"). Anything else is kept as given."""
    if key in _PRICE_FIELDS and isinstance(value, str) and "." in value:
        return value.rstrip("0").rstrip(".")
    if key == "description" and isinstance(value, str) and value.strip() and not value.lstrip().startswith("<"):
        return f"<p>{value.strip()}</p>"
    return value


def _merge(stored: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Partial update: absent keys stay, null clears, anything else replaces."""
    merged = dict(stored)
    for key, value in update.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


class CustomHttpShop:
    """The shop's state and its ASGI app (`app`), mounted under `base_path`.

    State is guarded by a lock because a served shop answers in the server's
    thread while the test reads and edits it from its own.
    """

    def __init__(
        self,
        *,
        signing_secret: str,
        api_key: str | None = None,
        store_name: str = "Reference Shop",
        supported_locales: tuple[str, ...] = ("en", "ar", "fr"),
        base_path: str = "/pim-bridge",
        tolerance: int = 300,
        max_batch: int = 100,
        clock: Callable[[], float] = time.time,
        reformat: bool = False,
    ) -> None:
        self.signing_secret = signing_secret
        self.api_key = api_key
        self.store_name = store_name
        self.supported_locales = supported_locales
        self.base_path = base_path.rstrip("/")
        self.tolerance = tolerance
        self.max_batch = max_batch
        self.clock = clock
        self.reformat = reformat
        """Store values written through the API in the shop's own form (`stored_form`); admin edits stay as given."""
        self.products: dict[str, StoredProduct] = {}
        self._by_external_id: dict[str, StoredProduct] = {}
        """The same products by external id, so an update finds its product without scanning the store."""
        self.requests: list[LoggedRequest] = []
        self.delay_seconds = 0.0
        self.delay_only: str | None = None
        self._faults: list[_Fault] = []
        self._lost: list[list[Any]] = []
        """[target, remaining, status] of answers to drop after acting (lose_answers_next)."""
        self._rotation: tuple[int, str] | None = None
        self._next_id = 1
        self.id_prefix = "p-"
        """What the shop's new external ids start with: a test makes them longer than the service can store."""
        self.locale_names: dict[str, str] = {}
        """How the shop names a locale in a product's error, where it does not say its code."""
        self.unreadable: set[str] = set()
        """SKUs the shop cannot answer a look-up for once it holds them: a look-up naming one is refused whole
        (422), as by a shop whose answer cannot carry something that product stores."""
        self._lock = threading.Lock()
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=methods)])

    # -- test controls -------------------------------------------------------------------------

    def fail_next(
        self, count: int, *, status: int = 503, retry_after: str | None = None, only: str | None = None
    ) -> None:
        """Answer the next `count` requests (any endpoint, or `only` "METHOD /path"; before authentication)
        with `status`."""
        if count <= 0:
            return
        with self._lock:
            self._faults.append(_Fault(status, count, retry_after, only))

    def lose_answers_next(self, count: int, *, only: str = "POST /products/batch", status: int = 502) -> None:
        """Carry out the next `count` requests to `only`, then answer `status` instead of their result: what a
        client sees when a proxy drops the answer after the shop has acted."""
        if count > 0:
            with self._lock:
                self._lost.append([only, count, status])

    def rate_limit_next(self, count: int, *, retry_after: str | None = "7") -> None:
        """429 with `Retry-After: retry_after` for the next `count` requests."""
        self.fail_next(count, status=429, retry_after=retry_after)

    def rotate_secret_after(self, count: int, secret: str) -> None:
        """Sign with `secret` from the request after the next `count` on: those are refused (401), as when a
        merchant rotates the shop's secret in the middle of a sync."""
        with self._lock:
            self._rotation = (len(self.requests) + count, secret)

    def slow_down(self, seconds: float, *, only: str | None = None) -> None:
        """Wait `seconds` before acting on and answering every request from now on, or only those to `only`
        ("METHOD /path"); 0 to stop. A request already waiting is acted on once its wait is over, whether or not
        its client is still there to read the answer."""
        self.delay_seconds, self.delay_only = seconds, only

    def seed(
        self,
        sku: str,
        *,
        fields: Mapping[str, Any] | None = None,
        locales: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> StoredProduct:
        """Create a product as if in the shop's own admin (no request, no validation)."""
        with self._lock:
            product = StoredProduct(
                sku=sku,
                external_id=self._new_id(),
                fields=dict(fields or {}),
                locales={locale: dict(values) for locale, values in (locales or {}).items()},
                updated_at=self._now(),
            )
            self._store(product)
            return product

    def edit(
        self,
        sku: str,
        *,
        fields: Mapping[str, Any] | None = None,
        locales: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> StoredProduct:
        """Change a product in the shop's admin (channel-side drift), with the same merge rules as the API."""
        with self._lock:
            product = self.products[sku]
            product.fields = _merge(product.fields, fields or {})
            for locale, values in (locales or {}).items():
                product.locales[locale] = _merge(product.locales.get(locale, {}), values)
            product.updated_at = self._now()
            return product

    def requests_to(self, method: str, path: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # -- webhooks the shop sends (for the service's /webhooks endpoint) -------------------------

    def signature_headers(self, body: bytes, *, now: float | None = None) -> dict[str, str]:
        timestamp = str(int(self.clock() if now is None else now))
        return {
            "X-Pimsync-Timestamp": timestamp,
            "X-Pimsync-Signature": shop_signature(self.signing_secret, body, timestamp),
        }

    def webhook(
        self,
        topic: str,
        product: str | Mapping[str, Any],
        *,
        delivery_id: str | None = None,
        now: float | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A signed webhook delivery as the shop would POST it: (raw body, headers).

        `product` is a stored SKU (its current document) or a document given
        as-is (for product.deleted after the product is gone, or malformed tests).
        """
        if isinstance(product, str):
            with self._lock:
                document = self.products[product].document()
        else:
            document = dict(product)
        body = json.dumps({"topic": topic, "product": document}, ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "X-Pimsync-Delivery": delivery_id or str(uuid.uuid4()),
            **self.signature_headers(body, now=now),
        }
        return body, headers

    async def send_webhook(
        self, http: httpx.AsyncClient, url: str, topic: str, product: str | Mapping[str, Any], **kwargs: Any
    ) -> httpx.Response:
        body, headers = self.webhook(topic, product, **kwargs)
        return await http.post(url, content=body, headers=headers)

    # -- the protocol ---------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _store(self, product: StoredProduct) -> None:
        """Keep `product` under its SKU and its external id (lock held)."""
        self.products[product.sku] = product
        self._by_external_id[product.external_id] = product

    def _find_external(self, external_id: str) -> StoredProduct | None:
        """The stored product with this external id (lock held).

        The index answers when it agrees with `products`; a test may edit
        `products` directly, so otherwise the store is scanned (and the index
        repaired), which keeps the answer exactly that of a scan.
        """
        product = self._by_external_id.get(external_id)
        if product is not None and product.external_id == external_id and self.products.get(product.sku) is product:
            return product
        self._by_external_id.pop(external_id, None)
        found = next((p for p in self.products.values() if p.external_id == external_id), None)
        if found is not None:
            self._by_external_id[external_id] = found
        return found

    def _new_id(self) -> str:
        external_id = f"{self.id_prefix}{self._next_id}"
        self._next_id += 1
        return external_id

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
        raw = raw_path.decode("latin-1").split("?", 1)[0]
        entry = LoggedRequest(
            method=request.method,
            path=unquote(raw[len(self.base_path) :]) if raw.startswith(self.base_path + "/") else unquote(raw),
            raw_query=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        try:
            entry.json = json.loads(body) if body else None
        except ValueError:
            entry.json = None
        with self._lock:
            self.requests.append(entry)
            if self._rotation is not None and len(self.requests) > self._rotation[0]:
                self.signing_secret, self._rotation = self._rotation[1], None
        delayed = self.delay_only in (None, f"{request.method} {entry.path}")
        if self.delay_seconds and delayed:
            await asyncio.sleep(self.delay_seconds)
        try:
            if not raw.startswith(self.base_path + "/"):
                raise _Refused(404, f"nothing at {raw}", "not_found")
            path = raw[len(self.base_path) :]
            target = f"{request.method} {path}"
            response = self._fault(target) or self._dispatch(request, path, body)
            response = self._lose(target) or response
        except _Refused as refused:
            response = JSONResponse(
                {"error": {"code": refused.code, "message": refused.message}}, status_code=refused.status
            )
        entry.status = response.status_code
        return response

    def _lose(self, target: str) -> Response | None:
        """The answer that replaces an acted-on request's result, when one is due to be lost."""
        with self._lock:
            if not self._lost or self._lost[0][0] != target:
                return None
            lost = self._lost[0]
            lost[1] -= 1
            if lost[1] <= 0:
                self._lost.pop(0)
        return JSONResponse({"error": {"code": "bad_gateway", "message": "the answer was lost"}}, lost[2])

    def _fault(self, target: str) -> Response | None:
        with self._lock:
            if not self._faults or self._faults[0].only not in (None, target):
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.pop(0)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        message = "too many requests" if fault.status == 429 else "the shop is unavailable"
        return JSONResponse({"error": {"code": "fault", "message": message}}, fault.status, headers=headers)

    def _authenticate(self, request: Request, body: bytes) -> None:
        timestamp = request.headers.get("x-pimsync-timestamp")
        signature = request.headers.get("x-pimsync-signature")
        if timestamp is None or not _DIGITS.fullmatch(timestamp):
            raise _Refused(401, "missing or malformed X-Pimsync-Timestamp", "unauthorized")
        if abs(self.clock() - int(timestamp)) > self.tolerance:
            raise _Refused(
                401, f"X-Pimsync-Timestamp is more than {self.tolerance}s from the shop's clock", "unauthorized"
            )
        if signature is None or not _SIGNATURE.fullmatch(signature):
            raise _Refused(401, "missing or malformed X-Pimsync-Signature", "unauthorized")
        if not hmac.compare_digest(shop_signature(self.signing_secret, body, timestamp), signature):
            raise _Refused(401, "X-Pimsync-Signature does not match the body", "unauthorized")
        if self.api_key is not None and not hmac.compare_digest(
            request.headers.get("authorization", "").encode(), f"Bearer {self.api_key}".encode()
        ):
            raise _Refused(401, "missing or wrong API key", "unauthorized")

    def _dispatch(self, request: Request, path: str, body: bytes) -> Response:
        self._authenticate(request, body)
        method = request.method
        if path == "/info":
            self._only(method, "GET")
            with self._lock:
                count = len(self.products)
            info = {
                "storeName": self.store_name,
                "supportedLocales": list(self.supported_locales),
                "productCount": count,
            }
            return JSONResponse(info)
        if path == "/products/batch":
            self._only(method, "POST")
            return self._batch(request, body)
        if path == "/products":
            self._only(method, "GET")
            return self._lookup(request)
        if path.startswith("/products/"):
            self._only(method, "DELETE")
            return self._delete(unquote(path[len("/products/") :]))
        raise _Refused(404, f"no endpoint {path}", "not_found")

    @staticmethod
    def _only(method: str, allowed: str) -> None:
        if method != allowed:
            raise _Refused(405, f"use {allowed}", "method_not_allowed")

    def _batch(self, request: Request, body: bytes) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise _Refused(415, "the body must be application/json", "unsupported_media_type")
        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError as exc:
            raise _Refused(400, f"the body is not UTF-8 JSON: {exc}") from None
        if not isinstance(payload, dict) or set(payload) != {"products"} or not isinstance(payload["products"], list):
            raise _Refused(422, 'the body must be {"products": [...]}', "invalid")
        products: list[Any] = payload["products"]
        if len(products) > self.max_batch:
            raise _Refused(422, f"at most {self.max_batch} products per batch, got {len(products)}", "batch_too_large")
        for position, document in enumerate(products):
            self._check_shape(position, document)
        results: list[dict[str, Any]] = []
        with self._lock:
            for document in products:
                try:
                    product = self._apply(document)
                except _ItemError as failed:
                    error: dict[str, Any] = {"code": failed.code, "message": failed.message}
                    if failed.locale is not None:
                        error["locale"] = self.locale_names.get(failed.locale, failed.locale)
                    results.append({"sku": document["sku"], "status": "error", "error": error})
                else:
                    results.append({"sku": product.sku, "status": "ok", "externalId": product.external_id})
        return JSONResponse({"results": results})

    @staticmethod
    def _check_shape(position: int, document: Any) -> None:
        """Malformed documents refuse the whole batch (422): the sender has a bug, not the product bad data."""
        where = f"products[{position}]"
        if not isinstance(document, dict):
            raise _Refused(422, f"{where} must be an object", "invalid")
        missing = DOCUMENT_KEYS - set(document)
        extra = set(document) - DOCUMENT_KEYS
        if missing:
            raise _Refused(422, f"{where} lacks {', '.join(sorted(missing))} (send null, do not omit)", "invalid")
        if extra:
            raise _Refused(422, f"{where} has unknown keys {', '.join(sorted(extra))}", "invalid")
        if not isinstance(document["sku"], str) or not document["sku"]:
            raise _Refused(422, f"{where}.sku must be a non-empty string", "invalid")
        if document["externalId"] is not None and not isinstance(document["externalId"], str):
            raise _Refused(422, f"{where}.externalId must be a string or null", "invalid")
        if not isinstance(document["fields"], dict):
            raise _Refused(422, f"{where}.fields must be an object", "invalid")
        locales = document["locales"]
        if not isinstance(locales, dict) or not all(isinstance(values, dict) for values in locales.values()):
            raise _Refused(422, f"{where}.locales must map each locale to an object", "invalid")

    def _apply(self, document: dict[str, Any]) -> StoredProduct:
        """Validate one product like a real shop would, then create or partially update it (lock held)."""
        sku: str = document["sku"]
        external_id: str | None = document["externalId"]
        fields: dict[str, Any] = document["fields"]
        locales: dict[str, dict[str, Any]] = document["locales"]
        existing: StoredProduct | None = None
        if external_id is None:
            if sku in self.products:
                raise _ItemError(
                    "CHN-031", f"a product with SKU {sku} already exists ({self.products[sku].external_id})"
                )
        else:
            existing = self._find_external(external_id)
            if existing is None:
                raise _ItemError("CHN-030", f"no product {external_id}")
            if existing.sku != sku:
                raise _ItemError("CHN-032", f"{external_id} is SKU {existing.sku}, not {sku}")
        for locale in locales:
            if locale not in self.supported_locales:
                raise _ItemError("CHN-012", f"locale {locale} is not enabled in this store", locale)
        price = fields.get("price")
        if price is not None and not (isinstance(price, str) and _DECIMAL.fullmatch(price)):
            raise _ItemError("CHN-011", 'price must be a decimal string such as "115.00"')
        for locale, values in locales.items():
            for key in ("title", "description"):
                if values.get(key) is not None and not isinstance(values[key], str):
                    raise _ItemError("CHN-011", f"{key} must be a string", locale)
        if self.reformat:
            fields = {key: stored_form(key, value) for key, value in fields.items()}
            locales = {
                locale: {key: stored_form(key, value) for key, value in values.items()}
                for locale, values in locales.items()
            }
        merged_fields = _merge(existing.fields if existing else {}, fields)
        merged_locales = {locale: dict(values) for locale, values in (existing.locales if existing else {}).items()}
        for locale, values in locales.items():
            merged_locales[locale] = _merge(merged_locales.get(locale, {}), values)
        merged_locales = {locale: values for locale, values in merged_locales.items() if values}
        if not any(isinstance(v.get("title"), str) and v["title"].strip() for v in merged_locales.values()):
            raise _ItemError("CHN-010", "title is required")
        if existing is None:
            existing = StoredProduct(sku, self._new_id(), merged_fields, merged_locales, self._now())
            self._store(existing)
        else:
            existing.fields, existing.locales, existing.updated_at = merged_fields, merged_locales, self._now()
        return existing

    def _lookup(self, request: Request) -> Response:
        # Split the raw (still percent-encoded) list on commas, then decode each SKU: a %2C stays inside its SKU.
        encoded = [part for key, part in _raw_pairs(request.url.query) if key == "skus"]
        if not encoded:
            raise _Refused(400, "skus= is required", "bad_request")
        skus = [unquote(part) for part in encoded[0].split(",") if part]
        if len(skus) > self.max_batch:
            raise _Refused(422, f"at most {self.max_batch} SKUs per request, got {len(skus)}", "too_many_skus")
        with self._lock:
            held = [sku for sku in dict.fromkeys(skus) if sku in self.products]
            unreadable = [sku for sku in held if sku in self.unreadable]
            if unreadable:
                raise _Refused(422, f"the product {unreadable[0]} cannot be read", "unreadable")
            found = [self.products[sku].document() for sku in held]
        return JSONResponse({"products": found})

    def _delete(self, external_id: str) -> Response:
        with self._lock:
            product = self._find_external(external_id)
            if product is None:
                raise _Refused(404, f"no product {external_id}", "CHN-030")
            del self.products[product.sku]
            del self._by_external_id[external_id]
        return Response(status_code=204)


def _raw_pairs(query: str) -> list[tuple[str, str]]:
    """Query pairs with values left percent-encoded."""
    pairs: list[tuple[str, str]] = []
    for part in query.split("&"):
        key, _, value = part.partition("=")
        pairs.append((unquote(key), value))
    return pairs
