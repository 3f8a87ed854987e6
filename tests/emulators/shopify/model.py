"""The emulated shop's data: products with options, variants, media and translations, locales, webhooks.

Plain dataclasses, no GraphQL: the resolvers read them, the mutations
(products.py, translations.py) change them, and the test controls inspect
them. Objects that can come back through an interface (`node`, `nodes`,
`featuredMedia`) carry `graphql_type` so execution can tell their type.

Times are epoch seconds from the emulator's clock, whole seconds like
Shopify's timestamps. `stamp()` makes every change move `updatedAt` forward
by at least a second, so a test with a frozen clock still sees each change
(Shopify itself can give two changes in the same second the same updatedAt).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

from graphql import GraphQLError

_GID = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<id>[0-9]+)$")

TRANSLATABLE_KEYS: dict[str, str] = {
    "title": "SINGLE_LINE_TEXT_FIELD",
    "body_html": "HTML",
    "handle": "URI",
    "product_type": "SINGLE_LINE_TEXT_FIELD",
    "meta_title": "SINGLE_LINE_TEXT_FIELD",
    "meta_description": "MULTI_LINE_TEXT_FIELD",
}
"""TranslatableResourceType.PRODUCT's keys and their LocalizableContentType."""

DEFAULT_OPTION = "Title"
DEFAULT_VALUE = "Default Title"


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: str) -> tuple[str, int]:
    """(type, id) of a global id; anything else is the error Shopify answers for a malformed id."""
    match = _GID.match(value)
    if match is None:
        raise GraphQLError(f"Invalid global id '{value}'", extensions={"code": "argumentLiteralsIncompatible"})
    return match["type"], int(match["id"])


def digest(value: str | None) -> str | None:
    """translatableContent.digest: the SHA-256 hex of the source value."""
    return None if value is None else hashlib.sha256(value.encode("utf-8")).hexdigest()


def iso_utc(stamp: float) -> str:
    """A GraphQL DateTime as Shopify writes it: 2026-04-01T12:00:00Z."""
    return datetime.fromtimestamp(int(stamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_local(stamp: float, offset_minutes: int) -> str:
    """A REST/webhook timestamp in the shop's zone: 2026-04-01T08:00:00-04:00."""
    zone = timezone(timedelta(minutes=offset_minutes))
    return datetime.fromtimestamp(int(stamp), zone).isoformat()


def handleize(text: str) -> str:
    """Shopify's handle of a title: lower case, letters and digits kept, every other run becomes one hyphen."""
    return re.sub(r"[\W_]+", "-", text.strip().lower()).strip("-")


@dataclass
class Weight:
    value: float
    unit: str


@dataclass
class Variant:
    graphql_type: ClassVar[str] = "ProductVariant"
    id: int
    product_id: int
    inventory_item_id: int
    option_values: list[str]
    """One value per product option, in option order."""
    price: str = "0.00"
    compare_at_price: str | None = None
    sku: str | None = None
    barcode: str | None = None
    position: int = 1
    taxable: bool = True
    inventory_policy: str = "DENY"
    weight: Weight | None = None
    tracked: bool = True
    requires_shipping: bool = True
    levels: dict[int, dict[str, int]] = field(default_factory=dict)
    """location id -> quantity name ("available", "on_hand") -> quantity."""
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def gid(self) -> str:
        return gid("ProductVariant", self.id)

    @property
    def title(self) -> str:
        return " / ".join(self.option_values) or DEFAULT_VALUE

    @property
    def inventory_quantity(self) -> int:
        return sum(level.get("available", 0) for level in self.levels.values())


@dataclass
class OptionValue:
    id: int
    name: str


@dataclass
class Option:
    id: int
    name: str
    position: int
    values: list[OptionValue]


@dataclass
class Media:
    graphql_type: ClassVar[str] = "MediaImage"
    id: int
    source: str
    alt: str | None
    status: str
    """PROCESSING right after productSet (Shopify processes images asynchronously: "images might not be
    immediately available after upload", MediaImage docs), READY once processed (Controls.process_media),
    FAILED when the source is not an http(s) URL."""
    url: str | None
    """The CDN URL, once READY; never the source URL sent."""
    created_at: float


APP_NAMESPACE = "app--7100000000001"
"""What the app-reserved namespace ($app, or a namespace left out) is stored and reported as."""


@dataclass
class Metafield:
    graphql_type: ClassVar[str] = "Metafield"
    id: int
    namespace: str
    key: str
    type: str
    value: str
    created_at: float
    updated_at: float


@dataclass
class Translation:
    locale: str
    key: str
    value: str
    source_digest: str | None
    """The digest the translation was registered against; it is outdated once the source digest differs."""
    updated_at: float


@dataclass
class Product:
    graphql_type: ClassVar[str] = "Product"
    id: int
    title: str
    handle: str
    description_html: str = ""
    vendor: str = ""
    product_type: str = ""
    tags: list[str] = field(default_factory=list)
    status: str = "ACTIVE"
    seo_title: str | None = None
    seo_description: str | None = None
    options: list[Option] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)
    translations: dict[tuple[str, str], Translation] = field(default_factory=dict)
    """(locale, key) -> Translation."""
    metafields: dict[tuple[str, str], Metafield] = field(default_factory=dict)
    """(namespace, key) -> Metafield."""
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def gid(self) -> str:
        return gid("Product", self.id)

    def source_value(self, key: str) -> str | None:
        """The primary-locale value of a translatable key; None when the product has none."""
        values = {
            "title": self.title,
            "body_html": self.description_html,
            "handle": self.handle,
            "product_type": self.product_type,
            "meta_title": self.seo_title,
            "meta_description": self.seo_description,
        }
        value = values[key]
        return value if value else None

    def is_outdated(self, translation: Translation) -> bool:
        return digest(self.source_value(translation.key)) != translation.source_digest


@dataclass
class Job:
    """An asynchronous job (productReorderMedia's): queued, answered `done: false`, run later (ShopState.run_jobs)."""

    graphql_type: ClassVar[str] = "Job"
    id: int
    run: Callable[[], None]
    """What the job does once it runs."""
    done: bool = False

    @property
    def gid(self) -> str:
        return gid("Job", self.id)


@dataclass
class ShopLocale:
    locale: str
    name: str
    primary: bool = False
    published: bool = True


@dataclass
class Location:
    graphql_type: ClassVar[str] = "Location"
    id: int
    name: str

    @property
    def gid(self) -> str:
        return gid("Location", self.id)


@dataclass
class WebhookSubscription:
    graphql_type: ClassVar[str] = "WebhookSubscription"
    id: int
    topic: str
    """The WebhookSubscriptionTopic enum value, e.g. PRODUCTS_UPDATE."""
    uri: str
    format: str = "JSON"
    include_fields: list[str] = field(default_factory=list)
    filter: str | None = None
    name: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class WebhookDelivery:
    """One webhook Shopify would POST: to `uri`, with this raw body and these headers."""

    topic: str
    uri: str
    body: bytes
    headers: dict[str, str]


@dataclass
class ShopInfo:
    """The shop's settings; defaults from shopify_python_api's shop.json fixture (Apple Computers)."""

    name: str = "Apple Computers"
    email: str = "steve@apple.com"
    myshopify_domain: str = "apple.myshopify.com"
    primary_domain: str = "shop.apple.com"
    currency_code: str = "USD"
    presentment_currencies: list[str] = field(default_factory=lambda: ["USD", "EUR", "AED"])
    iana_timezone: str = "America/New_York"
    utc_offset_minutes: int = -300
    weight_unit: str = "KILOGRAMS"


def default_locales() -> list[ShopLocale]:
    return [
        ShopLocale("en", "English", primary=True, published=True),
        ShopLocale("ar", "Arabic", published=True),
        ShopLocale("fr", "French", published=True),
        ShopLocale("de", "German", published=False),
    ]


class ShopState:
    """Everything the shop holds. Callers hold the emulator's lock while reading or changing it."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        api_secret: str,
        shop: ShopInfo | None = None,
        locales: list[ShopLocale] | None = None,
        media_ready: bool = False,
        reformat_html: bool = False,
    ) -> None:
        self.clock = clock
        self.api_secret = api_secret
        """The app's client secret: it signs webhooks."""
        self.shop = shop or ShopInfo()
        self.locales = locales if locales is not None else default_locales()
        self.media_ready = media_ready
        """Images are READY at once (a shortcut); by default they stay PROCESSING until Controls.process_media."""
        self.reformat_html = reformat_html
        """Store descriptionHtml re-serialised, as a sanitising editor would (fields.reserialise_html)."""
        self._next_id = 7_100_000_000_001
        self.locations = [Location(self.next_id(), "Shop location")]
        self.products: dict[int, Product] = {}
        self.subscriptions: dict[int, WebhookSubscription] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        """Every webhook-worthy change as (topic, REST payload), subscribed to or not."""
        self.outbox: list[WebhookDelivery] = []
        """Deliveries for subscribed topics, waiting for the test to deliver or inspect them."""
        self.library: dict[int, Media] = {}
        """Files no product references any more (fileUpdate referencesToRemove): still the shop's, on its Files
        page, until fileDelete."""
        self.jobs: dict[int, Job] = {}
        self.hold_jobs = False
        """Keep queued jobs from running (Controls.hold_jobs), to see a shop whose job has not run yet."""

    def run_jobs(self) -> None:
        """Run every queued job, oldest first, unless jobs are held: Shopify runs them shortly after the request
        that queued them, so the emulator runs them before it answers anything else."""
        if self.hold_jobs:
            return
        for job in self.jobs.values():
            if not job.done:
                job.run()
                job.done = True

    def file(self, file_gid: str) -> Media | None:
        """The file (a media image: the only file kind the emulator keeps) with this id, wherever it is
        referenced, or in the library; None when there is none."""
        kind, number = parse_gid(file_gid)
        if kind != "MediaImage":
            return None
        found = (m for p in self.products.values() for m in p.media if m.id == number)
        return next(found, None) or self.library.get(number)

    def next_id(self) -> int:
        """Ids are unique across types, 13 digits like a real shop's."""
        self._next_id += 1
        return self._next_id

    def now(self) -> float:
        return float(int(self.clock()))

    def stamp(self, previous: float | None = None) -> float:
        """A timestamp for a change: now, but always later than `previous`."""
        now = self.now()
        return now if previous is None or now > previous else previous + 1

    @property
    def primary_locale(self) -> str:
        return next(locale.locale for locale in self.locales if locale.primary)

    def product_by_handle(self, handle: str) -> Product | None:
        return next((p for p in self.products.values() if p.handle == handle), None)

    def product(self, product_gid: str) -> Product | None:
        kind, number = parse_gid(product_gid)
        return self.products.get(number) if kind == "Product" else None

    def variant(self, variant_gid: str) -> Variant | None:
        kind, number = parse_gid(variant_gid)
        if kind != "ProductVariant":
            return None
        return next((v for p in self.products.values() for v in p.variants if v.id == number), None)

    def inventory_item(self, item_gid: str) -> Variant | None:
        """The variant whose inventory item this is (the emulator keeps an item's fields on its variant)."""
        kind, number = parse_gid(item_gid)
        if kind != "InventoryItem":
            return None
        return next((v for p in self.products.values() for v in p.variants if v.inventory_item_id == number), None)

    def location(self, location_gid: str) -> Location | None:
        kind, number = parse_gid(location_gid)
        return next((loc for loc in self.locations if loc.id == number), None) if kind == "Location" else None

    def node(self, any_gid: str) -> Any:
        """The object behind a global id, for `node`/`nodes`; None when it does not exist; loud for other types."""
        kind, number = parse_gid(any_gid)
        if kind == "Product":
            return self.products.get(number)
        if kind == "ProductVariant":
            return self.variant(any_gid)
        if kind == "Location":
            return self.location(any_gid)
        if kind == "WebhookSubscription":
            return self.subscriptions.get(number)
        if kind == "Job":
            return self.jobs.get(number)
        raise GraphQLError(
            f"emulator does not implement node lookups of {kind} ids", extensions={"code": "EMULATOR_NOT_IMPLEMENTED"}
        )

    def unique_handle(self, wanted: str, *, exclude: int | None = None) -> str:
        """`wanted`, or wanted-1, wanted-2... the way Shopify de-duplicates generated handles."""
        taken = {p.handle for p in self.products.values() if p.id != exclude}
        base = wanted or "product"
        candidate, counter = base, 0
        while candidate in taken:
            counter += 1
            candidate = f"{base}-{counter}"
        return candidate


@dataclass
class Context:
    """What every resolver sees as `info.context`: the shop and the emulator's switches."""

    state: ShopState
    require_published_locales: bool = False
    allow_insecure_webhooks: bool = False
