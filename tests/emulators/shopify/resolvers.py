"""The object types the emulator answers, field by field (roots.py adds QueryRoot and Mutation).

Every entry here is a promise that the field behaves like Shopify's; a field
that is not listed fails the request with "emulator does not implement
Type.field" (schema.py), so a document that reaches past the emulator is
seen at once instead of reading a silent null. Arguments are listed per
field for the same reason.

Scalars follow Shopify's serialisation: ids are global ids, legacyResourceId
is a string (UnsignedInt64), Money a decimal string with two places,
DateTime `2026-04-01T12:00:00Z`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from typing import Any, cast

from graphql import GraphQLError, GraphQLResolveInfo

from . import metafields, search, translations
from .model import (
    DEFAULT_OPTION,
    DEFAULT_VALUE,
    Context,
    Media,
    Product,
    Variant,
    Weight,
    gid,
    iso_utc,
)
from .schema import API_VERSION, RESOLVERS, Field

CONNECTION_ARGS = ("first", "after", "last", "before", "reverse")
QUANTITY_NAMES = (
    "available", "on_hand", "committed", "incoming", "reserved", "damaged", "safety_stock", "quality_control",
)  # fmt: skip


def context(info: GraphQLResolveInfo[Any]) -> Context:
    return cast(Context, info.context)


def attr(name: str) -> Field:
    return Field(lambda source, info, args: getattr(source, name))


def key(name: str) -> Field:
    return Field(lambda source, info, args: source[name])


def keys(*names: str) -> dict[str, Field]:
    return {name: key(name) for name in names}


def calc(function: Callable[[Any], Any]) -> Field:
    return Field(lambda source, info, args: function(source))


def full(function: Callable[[Any, Context, dict[str, Any]], Any], *args: str) -> Field:
    """A field computed from (source, context, arguments), honouring the listed arguments."""
    return Field(lambda source, info, given: function(source, context(info), given), frozenset(args))


def plain_text(markup: str, truncate_at: int | None) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    text = re.sub(r"\s+", " ", text).strip()
    return text if truncate_at is None or len(text) <= truncate_at else text[: max(truncate_at - 3, 0)] + "..."


MEDIA_SEARCH: dict[str, search.Matcher] = {
    "id": lambda m, op, v: search.compare(m.id, op, search.number(v)),
    "media_type": lambda m, op, v: search.text_matches("IMAGE", op, v),  # every media the emulator keeps is one
}
"""The filters of Product.media's `query` (2026-04 SDL: `id` and `media_type`)."""


def product_media(product: Product, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """Product.media in position order (the default sortKey POSITION) or in id order (ID: the order Shopify made
    them in, its ids only ever growing), filtered by `query`."""
    predicate = search.compile_query(args.get("query"), MEDIA_SEARCH)
    position = {media.id: index for index, media in enumerate(product.media)}
    orders: dict[str, Callable[[Media], tuple[Any, ...]]] = {
        "POSITION": lambda m: (position[m.id],),
        "ID": lambda m: (m.id,),
    }
    chosen = order(orders, args.get("sortKey"), "POSITION")
    return search.paginate([m for m in product.media if predicate(m)], chosen, args)


PRODUCT_VARIANT_ORDER: dict[str, Callable[[Variant], tuple[Any, ...]]] = {
    "POSITION": lambda v: (v.position, v.id),
    "ID": lambda v: (v.id,),
    "SKU": lambda v: ((v.sku or "").casefold(), v.id),
    "TITLE": lambda v: (v.title.casefold(), v.id),
}


def order(table: dict[str, Callable[[Any], tuple[Any, ...]]], sort_key: str | None, default: str) -> Any:
    chosen = sort_key or default
    if chosen not in table:
        raise GraphQLError(
            f"emulator does not implement sortKey {chosen}", extensions={"code": "EMULATOR_NOT_IMPLEMENTED"}
        )
    return table[chosen]


def product_variants(product: Product, ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return search.paginate(product.variants, order(PRODUCT_VARIANT_ORDER, args.get("sortKey"), "POSITION"), args)


def product_options(product: Product, ctx: Context, args: dict[str, Any]) -> list[Any]:
    first = args.get("first")
    return product.options if first is None else product.options[:first]


def option_values(option: Any, product: Product | None) -> list[dict[str, Any]]:
    index = product.options.index(option) if product and option in product.options else -1
    used = {v.option_values[index] for v in product.variants} if product and index >= 0 else set()
    return [
        {"id": gid("ProductOptionValue", v.id), "name": v.name, "hasVariants": v.name in used} for v in option.values
    ]


def owner_of_option(option: Any, ctx: Context) -> Product | None:
    return next((p for p in ctx.state.products.values() if option in p.options), None)


def inventory_level(variant: Variant, ctx: Context, location_gid: str) -> dict[str, Any] | None:
    location = ctx.state.location(location_gid)
    if location is None or location.id not in variant.levels:
        return None
    return {
        "id": gid("InventoryLevel", variant.inventory_item_id) + f"?inventory_item_id={variant.inventory_item_id}",
        "location": location,
        "levels": variant.levels[location.id],
        "variant": variant,
    }


def quantities(level: dict[str, Any], names: Iterable[str]) -> list[dict[str, Any]]:
    unknown = [n for n in names if n not in QUANTITY_NAMES]
    if unknown:
        raise GraphQLError(f"Invalid quantity name: {unknown[0]}")
    return [
        {"id": gid("InventoryQuantity", level["variant"].inventory_item_id) + f"?name={n}", "name": n,
         "quantity": level["levels"].get(n, 0), "updatedAt": iso_utc(level["variant"].updated_at)}
        for n in names
    ]  # fmt: skip


def media_image(media: Media) -> dict[str, Any] | None:
    if media.url is None:
        return None
    return {"id": gid("ImageSource", media.id), "url": media.url, "altText": media.alt, "width": None, "height": None}


def original_source(media: Media, ctx: Context) -> dict[str, Any] | None:
    """MediaImageOriginalSource: "The URL of the original image, valid only for a short period" (2026-04 SDL),
    a signed URL of Shopify's own copy, signed anew at every read; none until the image is processed. Never
    the source URL the image was made from."""
    if media.status != "READY":
        return None
    now = int(ctx.state.now())
    url = (
        f"https://shopify-shop-assets.storage.googleapis.com/s/files/originals/{media.id}"
        f"?X-Goog-Date={now}&X-Goog-Expires=300&X-Goog-Signature={hash((media.id, now)) & 0xFFFFFFFF:08x}"
    )
    return {"url": url, "fileSize": None}


def metafield_view(metafield: Any) -> dict[str, Any]:
    return {
        "id": gid("Metafield", metafield.id),
        "namespace": metafield.namespace,
        "key": metafield.key,
        "type": metafield.type,
        "value": metafield.value,
        "ownerType": "PRODUCT",
        "createdAt": iso_utc(metafield.created_at),
        "updatedAt": iso_utc(metafield.updated_at),
    }


def primary_domain(shop: Any) -> dict[str, Any]:
    host = shop.primary_domain
    return {"id": gid("Domain", 1), "host": host, "url": f"https://{host}", "sslEnabled": True}


def only_default_variant(product: Product) -> bool:
    options = [o.name for o in product.options]
    return (
        len(product.variants) == 1
        and options == [DEFAULT_OPTION]
        and product.variants[0].option_values == [DEFAULT_VALUE]
    )


def product_of(variant: Variant, ctx: Context) -> Product:
    return ctx.state.products[variant.product_id]


RESOLVERS.update(
    {
        "Shop": {
            "id": calc(lambda shop: gid("Shop", 690933842)),
            "name": attr("name"),
            "email": attr("email"),
            "contactEmail": attr("email"),
            "myshopifyDomain": attr("myshopify_domain"),
            "primaryDomain": calc(primary_domain),
            "url": calc(lambda shop: f"https://{shop.primary_domain}"),
            "currencyCode": attr("currency_code"),
            "enabledPresentmentCurrencies": attr("presentment_currencies"),
            "ianaTimezone": attr("iana_timezone"),
            "weightUnit": attr("weight_unit"),
        },
        "Domain": keys("id", "host", "url", "sslEnabled"),
        "ShopLocale": {name: attr(name) for name in ("locale", "name", "primary", "published")},
        "Location": {
            "id": attr("gid"),
            "legacyResourceId": calc(lambda location: str(location.id)),
            "name": attr("name"),
            "isActive": calc(lambda location: True),
        },
        "Product": {
            "id": attr("gid"),
            "legacyResourceId": calc(lambda p: str(p.id)),
            "title": attr("title"),
            "handle": attr("handle"),
            "descriptionHtml": attr("description_html"),
            "description": full(lambda p, c, a: plain_text(p.description_html, a.get("truncateAt")), "truncateAt"),
            "vendor": attr("vendor"),
            "productType": attr("product_type"),
            "tags": attr("tags"),
            "status": attr("status"),
            "isGiftCard": calc(lambda p: False),
            "createdAt": calc(lambda p: iso_utc(p.created_at)),
            "updatedAt": calc(lambda p: iso_utc(p.updated_at)),
            "seo": calc(lambda p: {"title": p.seo_title, "description": p.seo_description}),
            "options": full(product_options, "first"),
            "variants": full(product_variants, *CONNECTION_ARGS, "sortKey"),
            "variantsCount": calc(lambda p: {"count": len(p.variants), "precision": "EXACT"}),
            "hasOnlyDefaultVariant": calc(only_default_variant),
            "totalInventory": calc(lambda p: sum(v.inventory_quantity for v in p.variants)),
            "tracksInventory": calc(lambda p: any(v.tracked for v in p.variants)),
            "featuredMedia": calc(lambda p: p.media[0] if p.media else None),
            "media": full(product_media, *CONNECTION_ARGS, "query", "sortKey"),
            "mediaCount": calc(lambda p: {"count": len(p.media), "precision": "EXACT"}),
            "translations": full(lambda p, c, a: translations.translations_for(p, a["locale"]), "locale"),
            "metafield": full(
                lambda p, c, a: (lambda m: metafield_view(m) if m else None)(
                    metafields.product_metafield(p, a.get("namespace"), a["key"])
                ),
                "namespace",
                "key",
            ),
        },
        "Metafield": keys("id", "namespace", "key", "type", "value", "ownerType", "createdAt", "updatedAt"),
        "ProductOption": {
            "id": calc(lambda o: gid("ProductOption", o.id)),
            "name": attr("name"),
            "position": attr("position"),
            "values": calc(lambda o: [v.name for v in o.values]),
            "optionValues": full(lambda o, c, a: option_values(o, owner_of_option(o, c))),
        },
        "ProductOptionValue": keys("id", "name", "hasVariants"),
        "ProductVariant": {
            "id": attr("gid"),
            "legacyResourceId": calc(lambda v: str(v.id)),
            "title": attr("title"),
            "displayName": full(lambda v, c, a: f"{product_of(v, c).title} - {v.title}"),
            "sku": attr("sku"),
            "barcode": attr("barcode"),
            "price": attr("price"),
            "compareAtPrice": attr("compare_at_price"),
            "position": attr("position"),
            "taxable": attr("taxable"),
            "inventoryPolicy": attr("inventory_policy"),
            "inventoryQuantity": attr("inventory_quantity"),
            "createdAt": calc(lambda v: iso_utc(v.created_at)),
            "updatedAt": calc(lambda v: iso_utc(v.updated_at)),
            "selectedOptions": full(
                lambda v, c, a: [
                    {"name": o.name, "value": value}
                    for o, value in zip(product_of(v, c).options, v.option_values, strict=False)
                ]
            ),
            "product": full(lambda v, c, a: product_of(v, c)),
            "inventoryItem": calc(lambda v: v),
        },
        "SelectedOption": keys("name", "value"),
        "SEO": keys("title", "description"),
        "Count": keys("count", "precision"),
        "InventoryItem": {
            "id": calc(lambda v: gid("InventoryItem", v.inventory_item_id)),
            "legacyResourceId": calc(lambda v: str(v.inventory_item_id)),
            "sku": attr("sku"),
            "tracked": attr("tracked"),
            "requiresShipping": attr("requires_shipping"),
            "measurement": calc(lambda v: v),
            "inventoryLevel": full(lambda v, c, a: inventory_level(v, c, a["locationId"]), "locationId"),
        },
        "InventoryItemMeasurement": {
            "id": calc(lambda v: gid("InventoryItemMeasurement", v.inventory_item_id)),
            "weight": full(lambda v, c, a: v.weight or Weight(0.0, c.state.shop.weight_unit)),
        },
        "Weight": {"value": attr("value"), "unit": attr("unit")},
        "InventoryLevel": {
            "id": key("id"),
            "location": key("location"),
            "quantities": Field(lambda level, info, a: quantities(level, a["names"]), frozenset({"names"})),
        },
        "InventoryQuantity": keys("id", "name", "quantity", "updatedAt"),
        "MediaImage": {
            "id": calc(lambda m: gid("MediaImage", m.id)),
            "alt": attr("alt"),
            "status": attr("status"),
            "fileStatus": attr("status"),  # FileStatus has MediaStatus's values
            "mediaContentType": calc(lambda m: "IMAGE"),
            "image": calc(media_image),
            "originalSource": full(lambda m, c, a: original_source(m, c)),
            "createdAt": calc(lambda m: iso_utc(m.created_at)),
        },
        "MediaImageOriginalSource": keys("url", "fileSize"),
        "Image": keys("id", "url", "altText", "width", "height"),
        "TranslatableResource": {
            "resourceId": attr("gid"),
            "translatableContent": full(lambda p, c, a: translations.translatable_content(c.state, p)),
            "translations": full(
                lambda p, c, a: translations.translations_for(p, a["locale"], a.get("outdated")), "locale", "outdated"
            ),
        },
        "TranslatableContent": keys("key", "value", "digest", "locale", "type"),
        "Translation": keys("key", "value", "locale", "outdated", "updatedAt"),
        "WebhookSubscription": {
            "id": calc(lambda s: gid("WebhookSubscription", s.id)),
            "legacyResourceId": calc(lambda s: str(s.id)),
            "topic": attr("topic"),
            "uri": attr("uri"),
            "format": attr("format"),
            "includeFields": attr("include_fields"),
            "filter": attr("filter"),
            "name": attr("name"),
            "createdAt": calc(lambda s: iso_utc(s.created_at)),
            "updatedAt": calc(lambda s: iso_utc(s.updated_at)),
            "apiVersion": calc(lambda s: {"handle": API_VERSION, "displayName": API_VERSION, "supported": True}),
        },
        "ApiVersion": keys("handle", "displayName", "supported"),
        "PageInfo": keys("hasNextPage", "hasPreviousPage", "startCursor", "endCursor"),
    }
)

for _connection in ("Product", "ProductVariant", "TranslatableResource", "WebhookSubscription", "Media"):
    RESOLVERS[f"{_connection}Connection"] = keys("edges", "nodes", "pageInfo")
    RESOLVERS[f"{_connection}Edge"] = keys("cursor", "node")
