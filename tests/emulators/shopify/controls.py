"""What a test can do to the emulated shop besides calling its API: seed, edit "in the admin", inspect, sign webhooks.

Seeding goes through productSet's own rules (a seed a real shop could not
hold is refused), but costs nothing, is not logged and sends no webhook.
An admin edit changes the product as a merchant would: updatedAt moves,
translations of changed source text become outdated, and products/update is
queued for subscribers (fire_webhook=False to skip). Products are referred
to by global id, handle or SKU.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from . import products, translations, webhooks
from .cost import LeakyBucket
from .fields import apply_variant_fields, finish_processing
from .model import Location, Product, ShopState, Translation, WebhookDelivery, digest, handleize

if TYPE_CHECKING:
    from .emulator import LoggedRequest


class Controls:
    """Mixed into ShopifyEmulator; every method takes the emulator's lock."""

    state: ShopState
    bucket: LeakyBucket
    clock: Callable[[], float]
    api_secret: str
    requests: list[LoggedRequest]
    _lock: threading.RLock

    # -- the cost bucket ------------------------------------------------------------------------

    def set_bucket(
        self,
        *,
        maximum_available: float | None = None,
        restore_rate: float | None = None,
        currently_available: float | None = None,
    ) -> None:
        """Change the bucket (a plan's size and restore rate, or its current level)."""
        with self._lock:
            self.bucket.refill(self.clock())
            if maximum_available is not None:
                self.bucket.maximum_available = maximum_available
            if restore_rate is not None:
                self.bucket.restore_rate = restore_rate
            if currently_available is not None:
                self.bucket.currently_available = currently_available
            self.bucket.currently_available = min(self.bucket.currently_available, self.bucket.maximum_available)

    def drain_bucket(self, to: float = 0.0) -> None:
        """Leave `to` points in the bucket, as if other requests of the same app had used the rest."""
        self.set_bucket(currently_available=to)

    def throttle_status(self) -> dict[str, Any]:
        with self._lock:
            self.bucket.refill(self.clock())
            return self.bucket.throttle_status()

    # -- products -------------------------------------------------------------------------------

    def seed_product(self, data: Mapping[str, Any], *, identifier: Mapping[str, Any] | None = None) -> Product:
        """Create (or, with an identifier, update) a product from a ProductSetInput-shaped mapping."""
        with self._lock:
            product, errors = products.product_set(self.state, data, identifier, notify=False)
        if product is None:
            raise ValueError(f"the seed is not a valid product: {errors}")
        return product

    def seed_simple_product(self, title: str, sku: str, price: str = "10.00", **fields: Any) -> Product:
        """One product with Shopify's single default variant carrying `sku` and `price`."""
        return self.seed_product(
            {
                "title": title,
                "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
                "variants": [
                    {"optionValues": [{"optionName": "Title", "name": "Default Title"}], "sku": sku, "price": price}
                ],
                **fields,
            }
        )

    def seed_rest_product(self, rest: Mapping[str, Any]) -> Product:
        """Seed from a REST Admin product (the shape of shopify_python_api's product.json fixture)."""
        variants = list(rest.get("variants") or [])
        options = []
        for position, option in enumerate(rest.get("options") or [{"name": "Title"}], start=1):
            values = option.get("values") or list(dict.fromkeys(v.get(f"option{position}") for v in variants))
            options.append({"name": option["name"], "values": [{"name": str(v)} for v in values if v]})
        location = self.state.locations[0].gid
        data: dict[str, Any] = {
            "title": rest["title"],
            "descriptionHtml": rest.get("body_html") or "",
            "vendor": rest.get("vendor") or "",
            "productType": rest.get("product_type") or "",
            "handle": rest.get("handle") or handleize(rest["title"]),
            "tags": [t for t in (rest.get("tags") or "").split(",") if t.strip()],
            "status": (rest.get("status") or "active").upper(),
            "productOptions": options,
            "variants": [
                {
                    "optionValues": [
                        {"optionName": o["name"], "name": str(v.get(f"option{k}"))}
                        for k, o in enumerate(options, start=1)
                    ],
                    "price": v.get("price") or "0.00",
                    "compareAtPrice": v.get("compare_at_price"),
                    "sku": v.get("sku"),
                    "barcode": v.get("barcode"),
                    "inventoryItem": {
                        "measurement": {"weight": {"value": float(v.get("grams") or 0), "unit": "GRAMS"}}
                    },
                    "inventoryQuantities": [
                        {"locationId": location, "name": "available", "quantity": int(v.get("inventory_quantity") or 0)}
                    ],
                }
                for v in variants
            ],
        }
        return self.seed_product(data)

    def seed_csv_product(
        self, row: Mapping[str, str], *, sku: str | None = None, location: Location | None = None
    ) -> Product:
        """Seed a single-variant product from one row of Shopify's product CSV (the import a merchant runs):
        its quantity held at `location` (the first one by default), inventory tracked only when "Variant
        Inventory Tracker" is "shopify", as Shopify's import reads it; `sku` for a row that has none."""
        if row.get("Option2 Name") or (row.get("Option1 Value") or "Default Title") != "Default Title":
            raise ValueError(f"{row['Handle']} has variants: seed it with seed_product")
        held_at = (location or self.state.locations[0]).gid
        option = {"optionName": "Title", "name": "Default Title"}
        variant = {
            "optionValues": [option],
            "price": row["Variant Price"],
            "compareAtPrice": row.get("Variant Compare At Price") or None,
            "sku": sku or row.get("Variant SKU") or None,
            "barcode": row.get("Variant Barcode") or None,
            "inventoryItem": {"tracked": row.get("Variant Inventory Tracker") == "shopify"},
            "inventoryQuantities": [
                {"locationId": held_at, "name": "available", "quantity": int(row.get("Variant Inventory Qty") or 0)}
            ],
        }
        return self.seed_product(
            {
                "title": row["Title"],
                "handle": row["Handle"],
                "descriptionHtml": row.get("Body (HTML)") or "",
                "vendor": row.get("Vendor") or "",
                "productType": row.get("Type") or "",
                "tags": [tag.strip() for tag in (row.get("Tags") or "").split(",") if tag.strip()],
                "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
                "variants": [variant],
            }
        )

    def product(self, ref: str) -> Product:
        """The product with this global id, handle or variant SKU (KeyError when there is none), as the merchant
        sees it: after the jobs queued so far have run (unless they are held)."""
        with self._lock:
            self.state.run_jobs()
            if ref.startswith("gid://"):
                found = self.state.product(ref)
            else:
                found = self.state.product_by_handle(ref) or next(
                    (p for p in self.state.products.values() if any(v.sku == ref for v in p.variants)), None
                )
        if found is None:
            raise KeyError(ref)
        return found

    @property
    def products(self) -> list[Product]:
        with self._lock:
            return sorted(self.state.products.values(), key=lambda p: p.id)

    def translations(self, ref: str) -> dict[str, dict[str, Translation]]:
        """locale -> key -> Translation of one product (check `.value` and `product.is_outdated(t)`)."""
        product = self.product(ref)
        with self._lock:
            found: dict[str, dict[str, Translation]] = {}
            for (locale, key), translation in product.translations.items():
                found.setdefault(locale, {})[key] = translation
            return found

    def digest_of(self, ref: str, key: str) -> str | None:
        """The digest translationsRegister wants now for `key` (title, body_html...) of a product."""
        return digest(self.product(ref).source_value(key))

    def edit_product(
        self,
        ref: str,
        *,
        fields: Mapping[str, Any] | None = None,
        variants: Mapping[str, Mapping[str, Any]] | None = None,
        translations_by_locale: Mapping[str, Mapping[str, str | None]] | None = None,
        fire_webhook: bool = True,
    ) -> Product:
        """A merchant's edit in the Shopify admin.

        `fields`: ProductSetInput scalar fields (title, descriptionHtml, handle,
        vendor, productType, tags, status, seo). `variants`: per SKU or variant
        gid, ProductVariantSetInput fields (price, compareAtPrice, sku, barcode,
        inventoryItem...). `translations_by_locale`: locale -> key -> value (None
        deletes), written against the current source, so not outdated; editing
        translations alone does not move the product's updatedAt.
        """
        product = self.product(ref)
        with self._lock:
            before = copy.deepcopy(product)
            products.apply_scalars(product, fields or {}, reformat_html=self.state.reformat_html)
            if fields and fields.get("handle"):
                product.handle = handleize(fields["handle"])
            errors: list[dict[str, Any]] = []
            for variant_ref, changes in (variants or {}).items():
                variant = next((v for v in product.variants if variant_ref in (v.sku, v.gid)), None)
                if variant is None:
                    raise KeyError(f"{ref} has no variant {variant_ref}")
                apply_variant_fields(
                    self.state, variant, changes, ("variants", variant_ref), errors, stocked_only=False
                )
            if errors:
                raise ValueError(f"the edit is not valid: {errors}")
            products.commit(self.state, product, before, notify=fire_webhook)
            for locale, values in (translations_by_locale or {}).items():
                for key, value in values.items():
                    translations.set_translation(self.state, product, locale, key, value)
            return product

    def process_media(self) -> None:
        """Shopify finishes processing every image still PROCESSING: READY, with its CDN URL."""
        with self._lock:
            for product in self.state.products.values():
                for media in product.media:
                    finish_processing(self.state, media)

    def hold_jobs(self, held: bool = True) -> None:
        """Keep queued jobs (productReorderMedia's) from running until `hold_jobs(False)` or `run_jobs()`: a shop
        whose job has not run yet. By default a job has run before the next request is answered."""
        with self._lock:
            self.state.hold_jobs = held

    def run_jobs(self) -> None:
        """Run every queued job now, held or not."""
        with self._lock:
            held, self.state.hold_jobs = self.state.hold_jobs, False
            self.state.run_jobs()
            self.state.hold_jobs = held

    def add_location(self, name: str) -> Location:
        """A location the merchant adds (a warehouse); the first location stays the primary one."""
        with self._lock:
            location = Location(self.state.next_id(), name)
            self.state.locations.append(location)
            return location

    def set_locale_published(self, locale: str, published: bool) -> None:
        """The merchant publishes or unpublishes one of the shop's languages (its translations stay)."""
        with self._lock:
            found = next(entry for entry in self.state.locales if entry.locale == locale)
            found.published = published

    def delete_product(self, ref: str, *, fire_webhook: bool = True) -> None:
        """Delete a product in the admin; products/delete is queued for subscribers."""
        product = self.product(ref)
        with self._lock:
            del self.state.products[product.id]
            if fire_webhook:
                webhooks.product_deleted(self.state, product.id)

    # -- the request log --------------------------------------------------------------------------

    def graphql_requests(self, operation_name: str | None = None) -> list[LoggedRequest]:
        """Logged GraphQL requests, optionally only those naming `operation_name`."""
        with self._lock:
            return [r for r in self.requests if r.query is not None and operation_name in (None, r.operation_name)]

    # -- webhooks ---------------------------------------------------------------------------------

    def webhook(
        self,
        topic: str,
        product: str | Mapping[str, Any],
        *,
        webhook_id: str | None = None,
        triggered_at: float | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A signed delivery (raw body, headers) of `topic` (products/update, products/delete...).

        `product` is a product ref (its current REST payload; products/delete
        carries only its id) or a payload given as-is. `secret` signs with
        another key, to test that a receiver rejects it.
        """
        if isinstance(product, str):
            found = self.product(product)
            with self._lock:
                payload = {"id": found.id} if topic.endswith("delete") else webhooks.rest_product(self.state, found)
        else:
            payload = dict(product)
        return webhooks.signed(
            self.state, secret or self.api_secret, topic, payload, webhook_id=webhook_id, triggered_at=triggered_at
        )

    async def send_webhook(
        self, http: httpx.AsyncClient, url: str, topic: str, product: str | Mapping[str, Any], **kwargs: Any
    ) -> httpx.Response:
        body, headers = self.webhook(topic, product, **kwargs)
        return await http.post(url, content=body, headers=headers)

    @property
    def outbox(self) -> list[WebhookDelivery]:
        """Deliveries queued for subscriptions (API changes and admin edits), oldest first."""
        with self._lock:
            return list(self.state.outbox)

    async def deliver_outbox(self, http: httpx.AsyncClient, *, url: str | None = None) -> Sequence[httpx.Response]:
        """POST every queued delivery (to its subscription's uri, or `url`) and empty the outbox."""
        with self._lock:
            pending, self.state.outbox = list(self.state.outbox), []
        return [await http.post(url or d.uri, content=d.body, headers=d.headers) for d in pending]
