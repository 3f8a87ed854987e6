"""Shopify's answers as typed values: readers that check the JSON shape of each document's `data`.

Shopify's JSON is read once, here; the mapper and the adapter work with these
dataclasses. A field missing or of the wrong type raises ShapeError (the
adapter turns it into ChannelRejected): an answer we cannot read is never
taken for "no product" or "no error".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

JsonObject = dict[str, Any]


class ShapeError(ValueError):
    """An answer that does not have the shape the 2026-04 schema promises for the document sent."""


def obj(value: object, what: str) -> JsonObject:
    if not isinstance(value, dict):
        raise ShapeError(f"{what} must be an object")
    return value


def maybe_obj(value: object, what: str) -> JsonObject | None:
    return None if value is None else obj(value, what)


def items(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ShapeError(f"{what} must be a list")
    return value


def text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ShapeError(f"{what} must be a string")
    return value


def maybe_text(value: object, what: str) -> str | None:
    return None if value is None else text(value, what)


def flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ShapeError(f"{what} must be true or false")
    return value


def number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ShapeError(f"{what} must be a number")
    return float(value)


def whole(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ShapeError(f"{what} must be an integer")
    return value


@dataclass(frozen=True, slots=True)
class ShopLocale:
    locale: str
    primary: bool
    published: bool


@dataclass(frozen=True, slots=True)
class ShopContext:
    """What the adapter needs to know about the shop: from the ShopInfo query, read once per adapter."""

    name: str
    currency: str
    presentment_currencies: tuple[str, ...]
    weight_unit: str
    locales: tuple[ShopLocale, ...]
    product_count: int | None
    """None when Shopify only gives a lower bound (more than productsCount's default limit)."""

    @property
    def primary_locale(self) -> str | None:
        return next((entry.locale for entry in self.locales if entry.primary), None)

    @property
    def locale_codes(self) -> tuple[str, ...]:
        """Every shop locale, published or not, in Shopify's order: Shopify takes translations into a locale
        the merchant has added but not yet published (merchants translate before publishing)."""
        return tuple(entry.locale for entry in self.locales)

    @property
    def translation_locales(self) -> tuple[str, ...]:
        """The locales translations are written to and read back from: every shop locale but the primary one."""
        return tuple(entry.locale for entry in self.locales if not entry.primary)

    @property
    def all_locales(self) -> frozenset[str]:
        return frozenset(self.locale_codes)


def parse_shop_context(data: JsonObject) -> ShopContext:
    shop = obj(data.get("shop"), "shop")
    locales = tuple(
        ShopLocale(
            locale=text(entry.get("locale"), "shopLocales[].locale"),
            primary=flag(entry.get("primary"), "shopLocales[].primary"),
            published=flag(entry.get("published"), "shopLocales[].published"),
        )
        for entry in (obj(raw, "shopLocales[]") for raw in items(data.get("shopLocales"), "shopLocales"))
    )
    count = maybe_obj(data.get("productsCount"), "productsCount")
    exact = count is not None and count.get("precision") == "EXACT"
    currency = text(shop.get("currencyCode"), "shop.currencyCode")
    presentment = tuple(
        text(code, "shop.enabledPresentmentCurrencies[]")
        for code in items(shop.get("enabledPresentmentCurrencies", []), "shop.enabledPresentmentCurrencies")
    )
    return ShopContext(
        name=text(shop.get("name"), "shop.name"),
        currency=currency,
        presentment_currencies=presentment,
        weight_unit=text(shop.get("weightUnit"), "shop.weightUnit"),
        locales=locales,
        product_count=whole(count.get("count"), "productsCount.count") if count is not None and exact else None,
    )


@dataclass(frozen=True, slots=True)
class VariantState:
    id: str
    sku: str | None
    selected_options: tuple[tuple[str, str], ...]
    """(option name, value name) pairs, in the product's option order."""
    weight: float | None
    weight_unit: str | None


@dataclass(frozen=True, slots=True)
class StockState:
    """The variant's inventory at the location stock is written to (documents.PRODUCT_STOCK_STATE)."""

    inventory_item_id: str
    tracked: bool
    """Whether Shopify enforces the variant's quantities (sells no more than it has)."""
    stocked: bool
    """Whether the variant has an inventory level at the location: productSet sets quantities only there."""


@dataclass(frozen=True, slots=True)
class RememberedImage:
    media_id: str
    source: str
    """The image URL the media was made from (Shopify itself never reports it)."""
    retired: tuple[str, ...] = ()
    """Earlier images of the connector's that were still on the product when this one was added: taken off it
    after the add, and again by a later export where that failed (media.image_plan)."""


@dataclass(frozen=True, slots=True)
class PendingImage:
    """An image the connector was adding when it wrote the image-source metafield: the metafield is written in the
    very productSet or productUpdate that makes the media, so it says so exactly when Shopify made the media, answer
    lost or not. Shopify's ids only grow, so the media made is the product's first one by id after `after`."""

    source: str
    """The URL the media is made from."""
    after: str | None
    """The product's newest media (by id) before the add; None when it had none."""


@dataclass(frozen=True, slots=True)
class MediaState:
    """One of the product's media: its id, and its status (whether Shopify has processed it, or failed it)."""

    id: str
    status: str


@dataclass(frozen=True, slots=True)
class ProductState:
    """What an update must know of the product first: productSet replaces list fields (variants, options, files)."""

    id: str
    variant_count: int
    options: tuple[tuple[str, str], ...]
    """(option id, option name) pairs."""
    variant: VariantState | None
    """The first variant; the only one when variant_count is 1."""
    media: tuple[MediaState, ...] = ()
    """The product's media in position order, the featured one first: all of them once `media_after` is None."""
    media_after: str | None = None
    """The cursor after which the product has more media than were read (PRODUCT_MEDIA_PAGE reads them)."""
    marker: RememberedImage | None = None
    """What the image-source metafield says: the media the connector made last, and the URL it made it from."""
    pending: PendingImage | None = None
    """What the image-source metafield says was being added and never recorded (its answer lost, or the record
    after it failed); media.ProductMedia.read_all finds the media it made and folds it into `marker`."""
    newest_media: str | None = None
    """The product's newest media by id (None: it has none): where a PendingImage written now starts from."""
    rewrite_marker: bool = False
    """`marker` was settled from a pending image: the metafield is written again so no later export looks for it."""
    stock: StockState | None = None
    """The variant's stock at the export location; read (PRODUCT_STOCK_STATE) only for a document carrying stock."""

    @property
    def image(self) -> RememberedImage | None:
        """The media the connector made from an image URL while it is still on the product, wherever the merchant
        moved it; None once the merchant removed it, or when Shopify failed it (it would stay a broken image)."""
        marker = self.marker
        if marker is None or not any(m.id == marker.media_id and m.status != "FAILED" for m in self.media):
            return None
        return marker


def _marker_object(product: JsonObject) -> dict[str, Any] | None:
    """The image-source metafield's JSON object; None when there is none, or it is not one."""
    marker = field_of(product, "imageSource", "value")
    if not isinstance(marker, str):
        return None
    try:
        remembered = json.loads(marker)
    except ValueError:
        return None
    return remembered if isinstance(remembered, dict) else None


def image_marker(product: JsonObject) -> RememberedImage | None:
    """What the image-source metafield (written by the connector with every image it sends) says: the media it
    made last and the URL it made it from; None when there is no readable marker."""
    remembered = _marker_object(product)
    if remembered is None:
        return None
    media_id, source = remembered.get("mediaId"), remembered.get("source")
    if not isinstance(media_id, str) or not isinstance(source, str):
        return None
    retired = remembered.get("retired", [])
    if not isinstance(retired, list) or not all(isinstance(old, str) for old in retired):
        return None
    return RememberedImage(media_id, source, tuple(retired))


def pending_image(product: JsonObject) -> PendingImage | None:
    """The image the image-source metafield says was being added (its "adding" entry); None when none was."""
    remembered = _marker_object(product)
    adding = None if remembered is None else remembered.get("adding")
    if not isinstance(adding, dict):
        return None
    source, after = adding.get("source"), adding.get("after")
    if not isinstance(source, str) or not (after is None or isinstance(after, str)):
        return None
    return PendingImage(source, after)


def marker_value(marker: RememberedImage | None, adding: PendingImage | None = None) -> str:
    """The image-source metafield's JSON: the media the connector made and its source, the earlier ones still to
    take off, and the image being added (written with the add itself); "{}" names nothing."""
    value: dict[str, Any] = {}
    if marker is not None:
        value = {"mediaId": marker.media_id, "source": marker.source}
        if marker.retired:
            value["retired"] = list(marker.retired)
    if adding is not None:
        value["adding"] = {"source": adding.source, "after": adding.after}
    return json.dumps(value, separators=(",", ":"))


def remembered_image(product: JsonObject) -> RememberedImage | None:
    """The product's featured media and the URL it was made from, when the image-source metafield names that
    media; None for any other image, or none."""
    media = product.get("featuredMedia")
    remembered = image_marker(product)
    if not isinstance(media, dict) or remembered is None or remembered.media_id != media.get("id"):
        return None
    return remembered


def parse_media_page(raw: object) -> tuple[tuple[MediaState, ...], str | None]:
    """A Product.media connection → its media, and the cursor to read the rest from (None: there is no more).
    Read strictly: a list misread as shorter would have productSet delete the media left out."""
    connection = obj(raw, "product.media")
    media = tuple(
        MediaState(text(node.get("id"), "media.nodes[].id"), text(node.get("status"), "media.nodes[].status"))
        for node in (obj(raw_node, "media.nodes[]") for raw_node in items(connection.get("nodes"), "media.nodes"))
    )
    page = obj(connection.get("pageInfo"), "media.pageInfo")
    if not flag(page.get("hasNextPage"), "media.pageInfo.hasNextPage"):
        return media, None
    return media, text(page.get("endCursor"), "media.pageInfo.endCursor")


def _weight(inventory_item: JsonObject | None) -> tuple[float | None, str | None]:
    measurement = maybe_obj((inventory_item or {}).get("measurement"), "inventoryItem.measurement")
    weight = maybe_obj((measurement or {}).get("weight"), "measurement.weight")
    if weight is None:
        return None, None
    return number(weight.get("value"), "weight.value"), text(weight.get("unit"), "weight.unit")


def parse_variant_state(raw: object) -> VariantState:
    node = obj(raw, "variant")
    weight, unit = _weight(maybe_obj(node.get("inventoryItem"), "variant.inventoryItem"))
    selected = tuple(
        (text(option.get("name"), "selectedOptions[].name"), text(option.get("value"), "selectedOptions[].value"))
        for option in (obj(o, "selectedOptions[]") for o in items(node.get("selectedOptions", []), "selectedOptions"))
    )
    return VariantState(
        id=text(node.get("id"), "variant.id"),
        sku=maybe_text(node.get("sku"), "variant.sku"),
        selected_options=selected,
        weight=weight,
        weight_unit=unit,
    )


def parse_stock_state(product: JsonObject) -> StockState | None:
    """The `stock` alias of PRODUCT_STOCK_STATE; None when it was not asked for, or the product has no variant."""
    if "stock" not in product:
        return None
    nodes = items(obj(product.get("stock"), "product.stock").get("nodes"), "stock.nodes")
    if not nodes:
        return None
    item = obj(obj(nodes[0], "stock.nodes[]").get("inventoryItem"), "stock.nodes[].inventoryItem")
    return StockState(
        inventory_item_id=text(item.get("id"), "inventoryItem.id"),
        tracked=flag(item.get("tracked"), "inventoryItem.tracked"),
        stocked=maybe_obj(item.get("inventoryLevel"), "inventoryItem.inventoryLevel") is not None,
    )


def parse_product_state(raw: object) -> ProductState:
    product = obj(raw, "product")
    variants = [
        parse_variant_state(node)
        for node in items(obj(product.get("variants"), "product.variants").get("nodes"), "variants.nodes")
    ]
    count_obj = maybe_obj(product.get("variantsCount"), "product.variantsCount")
    count = whole(count_obj.get("count"), "variantsCount.count") if count_obj is not None else len(variants)
    options = tuple(
        (text(option.get("id"), "options[].id"), text(option.get("name"), "options[].name"))
        for option in (obj(o, "options[]") for o in items(product.get("options", []), "product.options"))
    )
    media, media_after = parse_media_page(product.get("media"))
    return ProductState(
        id=text(product.get("id"), "product.id"),
        variant_count=max(count, len(variants)),
        options=options,
        variant=variants[0] if variants else None,
        media=media,
        media_after=media_after,
        marker=image_marker(product),
        pending=pending_image(product),
        newest_media=_newest_media(product),
        stock=parse_stock_state(product),
    )


def _newest_media(product: JsonObject) -> str | None:
    """The `newestMedia` alias of the ProductState fragment: the id of the product's newest media, or None."""
    nodes = items(obj(product.get("newestMedia"), "product.newestMedia").get("nodes"), "newestMedia.nodes")
    return text(obj(nodes[0], "newestMedia.nodes[]").get("id"), "newestMedia.nodes[].id") if nodes else None


def parse_first_media(raw: object) -> MediaState | None:
    """ProductPendingMedia → the product's first media of the answer, or None (none matched, or no product)."""
    product = maybe_obj(obj(raw, "data").get("product"), "product")
    if product is None:
        return None
    media, _ = parse_media_page(product.get("media"))
    return media[0] if media else None


@dataclass(frozen=True, slots=True)
class UserError:
    """One entry of a payload's userErrors."""

    code: str | None
    field: tuple[str, ...]
    message: str


def parse_user_errors(raw: object, what: str) -> list[UserError]:
    errors: list[UserError] = []
    for entry in items(raw, f"{what}.userErrors"):
        error = obj(entry, f"{what}.userErrors[]")
        field = error.get("field") or []
        errors.append(
            UserError(
                code=maybe_text(error.get("code"), "userErrors[].code"),
                field=tuple(str(part) for part in items(field, "userErrors[].field")),
                message=text(error.get("message"), "userErrors[].message"),
            )
        )
    return errors


@dataclass(frozen=True, slots=True)
class ProductSetAnswer:
    errors: list[UserError]
    product_id: str | None
    """The product written; None when there is none."""
    media_id: str | None
    """The product's first media after the write: the image sent, when one was."""


def parse_product_set(data: JsonObject) -> ProductSetAnswer:
    """productSet's userErrors, the id of the product written and of its first media."""
    payload = obj(data.get("productSet"), "productSet")
    errors = parse_user_errors(payload.get("userErrors"), "productSet")
    product = maybe_obj(payload.get("product"), "productSet.product")
    if product is None:
        return ProductSetAnswer(errors, None, None)
    media = maybe_obj(product.get("media"), "product.media") or {}
    nodes = [obj(node, "media.nodes[]") for node in items(media.get("nodes", []), "media.nodes")]
    media_id = text(nodes[0].get("id"), "media.nodes[].id") if nodes else None
    return ProductSetAnswer(errors, maybe_text(product.get("id"), "product.id") or None, media_id)


def parse_media_added(data: JsonObject) -> tuple[list[UserError], str | None]:
    """ProductMediaAdd (productUpdate): its userErrors, and the product's last media (the one just added)."""
    payload = obj(data.get("productUpdate"), "productUpdate")
    errors = parse_user_errors(payload.get("userErrors"), "productUpdate")
    product = maybe_obj(payload.get("product"), "productUpdate.product")
    if product is None:
        return errors, None
    nodes = items(obj(product.get("media"), "product.media").get("nodes"), "media.nodes")
    return errors, text(obj(nodes[-1], "media.nodes[]").get("id"), "media.nodes[].id") if nodes else None


def parse_media_reordered(data: JsonObject) -> list[UserError]:
    """ProductReorderMedia: its mediaUserErrors (the Job it queues is not waited for)."""
    payload = obj(data.get("productReorderMedia"), "productReorderMedia")
    return parse_user_errors(payload.get("mediaUserErrors"), "productReorderMedia")


@dataclass(frozen=True, slots=True)
class TranslatableContent:
    key: str
    value: str | None
    digest: str | None


def parse_translatable_content(data: JsonObject) -> dict[str, TranslatableContent] | None:
    """The product's translatable content by key; None when Shopify has no such resource."""
    resource = maybe_obj(data.get("translatableResource"), "translatableResource")
    if resource is None:
        return None
    found: dict[str, TranslatableContent] = {}
    for raw in items(resource.get("translatableContent"), "translatableContent"):
        entry = obj(raw, "translatableContent[]")
        key = text(entry.get("key"), "translatableContent[].key")
        found[key] = TranslatableContent(
            key=key,
            value=maybe_text(entry.get("value"), "translatableContent[].value"),
            digest=maybe_text(entry.get("digest"), "translatableContent[].digest"),
        )
    return found


def parse_translations(data: JsonObject) -> dict[str, dict[str, str | None]]:
    """translatableResourcesByIds → {resourceId: {translation key: value}} for the locale asked."""
    connection = obj(data.get("translatableResourcesByIds"), "translatableResourcesByIds")
    found: dict[str, dict[str, str | None]] = {}
    for raw in items(connection.get("nodes"), "translatableResourcesByIds.nodes"):
        node = obj(raw, "translatableResourcesByIds.nodes[]")
        values: dict[str, str | None] = {}
        for entry in (obj(t, "translations[]") for t in items(node.get("translations"), "translations")):
            values[text(entry.get("key"), "translations[].key")] = maybe_text(
                entry.get("value"), "translations[].value"
            )
        found[text(node.get("resourceId"), "resourceId")] = values
    return found


def parse_translation_times(data: JsonObject) -> dict[str, datetime]:
    """translatableResourcesByIds → {resourceId: when its latest translation in the locale asked changed}.

    A translation is its own record on Shopify: editing one leaves the product's updatedAt as it was.
    """
    connection = obj(data.get("translatableResourcesByIds"), "translatableResourcesByIds")
    found: dict[str, datetime] = {}
    for raw in items(connection.get("nodes"), "translatableResourcesByIds.nodes"):
        node = obj(raw, "translatableResourcesByIds.nodes[]")
        times = [
            when
            for entry in items(node.get("translations"), "translations")
            if (when := parse_datetime(obj(entry, "translations[]").get("updatedAt"))) is not None
        ]
        if times:
            found[text(node.get("resourceId"), "resourceId")] = max(times)
    return found


@dataclass(frozen=True, slots=True)
class Page:
    nodes: Sequence[JsonObject]
    next_cursor: str | None


def parse_variant_page(data: JsonObject) -> Page:
    connection = obj(data.get("productVariants"), "productVariants")
    nodes = [obj(node, "productVariants.nodes[]") for node in items(connection.get("nodes"), "productVariants.nodes")]
    page_info = maybe_obj(connection.get("pageInfo"), "productVariants.pageInfo") or {}
    cursor = maybe_text(page_info.get("endCursor"), "pageInfo.endCursor")
    more = page_info.get("hasNextPage") is True
    return Page(nodes=nodes, next_cursor=cursor if more and cursor else None)


def product_ids_by_sku(data: JsonObject, sku: str) -> tuple[list[str], str | None]:
    """Products of this page holding a variant whose SKU is exactly `sku` (Shopify's search also matches loosely),
    and the cursor of the next page (None on the last)."""
    page = parse_variant_page(data)
    ids: list[str] = []
    for node in page.nodes:
        if node.get("sku") == sku:
            product_id = text(obj(node.get("product"), "variant.product").get("id"), "product.id")
            if product_id not in ids:
                ids.append(product_id)
    return ids, page.next_cursor


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    id: str
    topic: str
    """The WebhookSubscriptionTopic value, e.g. PRODUCTS_UPDATE."""
    uri: str


def parse_webhook_subscription(raw: object) -> WebhookSubscription:
    node = obj(raw, "webhookSubscription")
    return WebhookSubscription(
        id=text(node.get("id"), "webhookSubscription.id"),
        topic=text(node.get("topic"), "webhookSubscription.topic"),
        uri=text(node.get("uri"), "webhookSubscription.uri"),
    )


def parse_webhook_subscriptions(data: JsonObject) -> list[WebhookSubscription]:
    connection = obj(data.get("webhookSubscriptions"), "webhookSubscriptions")
    return [parse_webhook_subscription(node) for node in items(connection.get("nodes"), "webhookSubscriptions.nodes")]


def parse_webhook_page(data: JsonObject) -> tuple[list[WebhookSubscription], str | None]:
    """One page of webhookSubscriptions and the cursor of the next (None on the last page)."""
    connection = obj(data.get("webhookSubscriptions"), "webhookSubscriptions")
    found = [parse_webhook_subscription(node) for node in items(connection.get("nodes"), "webhookSubscriptions.nodes")]
    page_info = maybe_obj(connection.get("pageInfo"), "webhookSubscriptions.pageInfo") or {}
    cursor = maybe_text(page_info.get("endCursor"), "pageInfo.endCursor")
    return found, cursor if page_info.get("hasNextPage") is True and cursor else None


def parse_webhook_create(data: JsonObject) -> tuple[list[UserError], WebhookSubscription | None]:
    """webhookSubscriptionCreate's userErrors and the subscription it made (None when it made none)."""
    payload = obj(data.get("webhookSubscriptionCreate"), "webhookSubscriptionCreate")
    errors = parse_user_errors(payload.get("userErrors"), "webhookSubscriptionCreate")
    created = payload.get("webhookSubscription")
    return errors, None if created is None else parse_webhook_subscription(created)


def field_of(mapping: Mapping[str, Any], *path: str) -> Any:
    """mapping[path[0]][path[1]]...; None where a step is missing or null."""
    value: Any = mapping
    for step in path:
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def sku_term(sku: str) -> str:
    """One exact-SKU term of Shopify's search syntax: quoted, with backslash and quote escaped
    (shopify.dev/docs/api/usage/search-syntax)."""
    escaped = sku.replace("\\", "\\\\").replace('"', '\\"')
    return f'sku:"{escaped}"'


def sku_query(skus: Iterable[str]) -> str:
    return " OR ".join(sku_term(sku) for sku in skus)


def decimal_text(value: object) -> str | None:
    """A Shopify Float (weight) as the decimal string the pipeline compares: 1.5 → "1.5", 2.0 → "2"."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    amount = Decimal(repr(value)).normalize()
    return format(amount, "f")


def parse_datetime(value: object) -> datetime | None:
    """Shopify's DateTime (ISO 8601 with offset, e.g. 2026-04-01T10:00:00Z) as an aware datetime."""
    if not isinstance(value, str):
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else None
