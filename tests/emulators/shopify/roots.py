"""QueryRoot and Mutation: the entry points the emulator answers, with the arguments it honours.

Queries read the shop through search.py (Shopify's `query:` syntax and
cursor pagination); mutations delegate to products.py, catalog.py,
inventory.py and translations.py and wrap the outcome in the payload type
of the SDL (`product`, `userErrors`, ...). Webhook subscriptions live here too: a
subscription needs an https callback (Shopify refuses plain http), unless
the emulator was built with allow_insecure_webhooks=True for local receivers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from . import catalog, inventory, media, metafields, products, resolvers, search, translations
from .fields import refuse_unknown
from .model import Context, Product, Variant, WebhookSubscription, parse_gid
from .resolvers import CONNECTION_ARGS, full, keys
from .schema import RESOLVERS, not_implemented
from .search import compare, contains, number, text_matches, timestamp

PRODUCT_SEARCH: dict[str, search.Matcher] = {
    "sku": lambda p, op, v: any(text_matches(variant.sku, op, v) for variant in p.variants),
    "barcode": lambda p, op, v: any(text_matches(variant.barcode, op, v) for variant in p.variants),
    "handle": lambda p, op, v: text_matches(p.handle, op, v),
    "title": lambda p, op, v: contains(p.title, op, v),
    "vendor": lambda p, op, v: text_matches(p.vendor, op, v),
    "product_type": lambda p, op, v: text_matches(p.product_type, op, v),
    "status": lambda p, op, v: p.status.casefold() in {s.strip().casefold() for s in v.split(",")},
    "tag": lambda p, op, v: any(text_matches(tag, op, v) for tag in p.tags),
    "id": lambda p, op, v: compare(p.id, op, number(v)),
    "updated_at": lambda p, op, v: compare(p.updated_at, op, timestamp(v)),
    "created_at": lambda p, op, v: compare(p.created_at, op, timestamp(v)),
}
VARIANT_SEARCH: dict[str, search.Matcher] = {
    "sku": lambda variant, op, v: text_matches(variant.sku, op, v),
    "barcode": lambda variant, op, v: text_matches(variant.barcode, op, v),
    "title": lambda variant, op, v: contains(variant.title, op, v),
    "id": lambda variant, op, v: compare(variant.id, op, number(v)),
    "product_id": lambda variant, op, v: compare(variant.product_id, op, number(v)),
    "product_ids": lambda variant, op, v: variant.product_id in {int(number(x)) for x in v.split(",") if x},
    "updated_at": lambda variant, op, v: compare(variant.updated_at, op, timestamp(v)),
}
PRODUCT_ORDER: dict[str, Callable[[Product], tuple[Any, ...]]] = {
    "ID": lambda p: (p.id,),
    "TITLE": lambda p: (p.title.casefold(), p.id),
    "UPDATED_AT": lambda p: (p.updated_at, p.id),
    "CREATED_AT": lambda p: (p.created_at, p.id),
    "VENDOR": lambda p: (p.vendor.casefold(), p.id),
    "PRODUCT_TYPE": lambda p: (p.product_type.casefold(), p.id),
}
VARIANT_ORDER: dict[str, Callable[[Variant], tuple[Any, ...]]] = {
    "ID": lambda v: (v.id,),
    "SKU": lambda v: ((v.sku or "").casefold(), v.id),
    "TITLE": lambda v: (v.title.casefold(), v.id),
    "POSITION": lambda v: (v.product_id, v.position),
}
WEBHOOK_SCHEMES = ("https", "pubsub", "arn")


def _matching_products(ctx: Context, query: str | None) -> list[Product]:
    predicate = search.compile_query(query, PRODUCT_SEARCH)
    return [p for p in ctx.state.products.values() if predicate(p)]


def _matching_variants(ctx: Context, query: str | None) -> list[Variant]:
    predicate = search.compile_query(query, VARIANT_SEARCH)
    return [v for p in ctx.state.products.values() for v in p.variants if predicate(v)]


def _sorted_by(table: Mapping[str, Callable[[Any], tuple[Any, ...]]], sort_key: str | None) -> Any:
    chosen = sort_key or "ID"
    if chosen not in table:
        raise not_implemented(f"sortKey {chosen}")
    return table[chosen]


def _count(items: list[Any], limit: int | None) -> dict[str, Any]:
    cap = 10000 if limit is None else limit
    return {"count": min(len(items), cap), "precision": "AT_LEAST" if len(items) > cap else "EXACT"}


def _products(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return search.paginate(
        _matching_products(ctx, args.get("query")), _sorted_by(PRODUCT_ORDER, args.get("sortKey")), args
    )


def _variants(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return search.paginate(
        _matching_variants(ctx, args.get("query")), _sorted_by(VARIANT_ORDER, args.get("sortKey")), args
    )


def _product_by_identifier(ctx: Context, identifier: Mapping[str, Any]) -> Product | None:
    if identifier.get("customId"):
        raise not_implemented("ProductIdentifierInput.customId")
    if identifier.get("id"):
        return ctx.state.product(identifier["id"])
    return ctx.state.product_by_handle(identifier.get("handle") or "")


def _translatable(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    if args["resourceType"] != "PRODUCT":
        raise not_implemented(f"translatableResources(resourceType: {args['resourceType']})")
    return search.paginate(list(ctx.state.products.values()), lambda p: (p.id,), args)


def _translatable_by_ids(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    found = [translations.resource_product(ctx.state, resource_id) for resource_id in args["resourceIds"]]
    return search.paginate([p for p in found if p is not None], lambda p: (p.id,), args)


def _subscriptions(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    found = [
        s
        for s in ctx.state.subscriptions.values()
        if (not args.get("topics") or s.topic in args["topics"]) and (not args.get("uri") or s.uri == args["uri"])
    ]
    return search.paginate(found, lambda s: (s.id,), args)


def _root(function: Callable[[Context, dict[str, Any]], Any], *args: str) -> Any:
    return full(lambda source, ctx, given: function(ctx, given), *args)


RESOLVERS["QueryRoot"] = {
    "shop": _root(lambda c, a: c.state.shop),
    "shopLocales": _root(
        lambda c, a: [loc for loc in c.state.locales if loc.published or not a.get("published")], "published"
    ),
    "product": _root(lambda c, a: c.state.product(a["id"]), "id"),
    "productByIdentifier": _root(lambda c, a: _product_by_identifier(c, a["identifier"]), "identifier"),
    "products": _root(_products, *CONNECTION_ARGS, "sortKey", "query"),
    "productsCount": _root(
        lambda c, a: _count(_matching_products(c, a.get("query")), a.get("limit")), "query", "limit"
    ),
    "productVariant": _root(lambda c, a: c.state.variant(a["id"]), "id"),
    "productVariants": _root(_variants, *CONNECTION_ARGS, "sortKey", "query"),
    "productVariantsCount": _root(
        lambda c, a: _count(_matching_variants(c, a.get("query")), a.get("limit")), "query", "limit"
    ),
    "node": _root(lambda c, a: c.state.node(a["id"]), "id"),
    "nodes": _root(lambda c, a: [c.state.node(i) for i in a["ids"]], "ids"),
    "job": _root(lambda c, a: c.state.node(a["id"]) if "/Job/" in a["id"] else None, "id"),
    "location": _root(lambda c, a: c.state.location(a["id"]) if a.get("id") else c.state.locations[0], "id"),
    "translatableResource": _root(lambda c, a: translations.resource_product(c.state, a["resourceId"]), "resourceId"),
    "translatableResources": _root(_translatable, *CONNECTION_ARGS, "resourceType"),
    "translatableResourcesByIds": _root(_translatable_by_ids, *CONNECTION_ARGS, "resourceIds"),
    "webhookSubscription": _root(
        lambda c, a: c.state.node(a["id"]) if "WebhookSubscription" in a["id"] else None, "id"
    ),
    "webhookSubscriptions": _root(_subscriptions, *CONNECTION_ARGS, "topics", "uri"),
}


def _product_set(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("synchronous") is False:
        raise not_implemented("productSet(synchronous: false) (the asynchronous ProductSetOperation)")
    product, errors = products.product_set(ctx.state, args["input"], args.get("identifier"))
    return {"product": product, "productSetOperation": None, "userErrors": errors}


def _product_delete(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("synchronous") is False:
        raise not_implemented("productDelete(synchronous: false)")
    deleted, errors = catalog.product_delete(ctx.state, args["input"]["id"])
    return {"deletedProductId": deleted, "productDeleteOperation": None, "shop": ctx.state.shop, "userErrors": errors}


def _variants_update(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("media"):
        raise not_implemented("productVariantsBulkUpdate(media:)")
    partial = bool(args.get("allowPartialUpdates"))
    product, variants, errors = catalog.variants_bulk_update(ctx.state, args["productId"], args["variants"], partial)
    return {"product": product, "productVariants": variants, "userErrors": errors}


def _variants_create(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("media"):
        raise not_implemented("productVariantsBulkCreate(media:)")
    product, variants, errors = catalog.variants_bulk_create(
        ctx.state, args["productId"], args["variants"], args.get("strategy")
    )
    return {"product": product, "productVariants": variants, "userErrors": errors}


def _webhook_create(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    data = args["webhookSubscription"]
    refuse_unknown("WebhookSubscriptionInput", data, ("uri", "format", "includeFields", "filter", "name"))
    uri = (data.get("uri") or "").strip()
    scheme = urlsplit(uri).scheme
    allowed = WEBHOOK_SCHEMES + (("http",) if ctx.allow_insecure_webhooks else ())
    field = ["webhookSubscription", "uri"]
    error = None
    if not uri:
        error = "Address can't be blank"
    elif scheme not in allowed:
        error = f"Address protocol {scheme}:// is not supported" if scheme else "Address is invalid"
    elif any(s.topic == args["topic"] and s.uri == uri for s in ctx.state.subscriptions.values()):
        error = "Address for this topic has already been taken"
    if error:
        return {"webhookSubscription": None, "userErrors": [{"field": field, "message": error}]}
    now = ctx.state.stamp()
    subscription = WebhookSubscription(
        id=ctx.state.next_id(),
        topic=args["topic"],
        uri=uri,
        format=data.get("format") or "JSON",
        include_fields=list(data.get("includeFields") or []),
        filter=data.get("filter"),
        name=data.get("name"),
        created_at=now,
        updated_at=now,
    )
    ctx.state.subscriptions[subscription.id] = subscription
    return {"webhookSubscription": subscription, "userErrors": []}


def _webhook_delete(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    kind, number_ = parse_gid(args["id"])
    if kind != "WebhookSubscription" or ctx.state.subscriptions.pop(number_, None) is None:
        return {
            "deletedWebhookSubscriptionId": None,
            "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
        }
    return {"deletedWebhookSubscriptionId": args["id"], "userErrors": []}


def _toggle_activation(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    variant, activated, errors = inventory.toggle_activation(
        ctx.state, args["inventoryItemId"], args["inventoryItemUpdates"]
    )
    levels = None
    if variant is not None and activated is not None:
        locations = [location for location in ctx.state.locations if location.id in activated]
        levels = [resolvers.inventory_level(variant, ctx, location.gid) for location in locations]
    return {"inventoryItem": variant, "inventoryLevels": levels, "userErrors": errors}


def _metafields_set(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    stored, errors = metafields.metafields_set(ctx.state, args["metafields"])
    views = None if stored is None else [resolvers.metafield_view(m) for m in stored]
    return {"metafields": views, "userErrors": errors}


def _registered(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    stored, errors = translations.register(
        ctx.state, args["resourceId"], args["translations"], require_published=ctx.require_published_locales
    )
    return {"translations": stored, "userErrors": errors}


def _removed(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    removed, errors = translations.remove(
        ctx.state, args["resourceId"], args["translationKeys"], args["locales"], args.get("marketIds")
    )
    return {"translations": removed, "userErrors": errors}


def _created(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    product, errors = catalog.product_create(ctx.state, args.get("product") or {}, args.get("media"))
    return {"product": product, "shop": ctx.state.shop, "userErrors": errors}


def _updated(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    """productUpdate: the product's fields, then the media it adds (nothing at all when either is refused)."""
    added = args.get("media") or []
    if added:  # checked before anything changes, so a refused media leaves the product's fields as they were
        target = catalog.product_to_update(ctx.state, args.get("product") or {}, args.get("identifier"))
        errors = [] if target is None else media.check_media(target, added)
        if errors:
            return {"product": None, "userErrors": errors}
    product, errors = catalog.product_update(ctx.state, args.get("product") or {}, args.get("identifier"))
    if product is not None and added:
        media.add_media(ctx.state, product, added)
    return {"product": product, "userErrors": errors}


def _files_updated(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    files, errors = media.update_files(ctx.state, args["files"])
    return {"files": files, "userErrors": errors}


def _files_deleted(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    deleted, errors = media.delete_files(ctx.state, args["fileIds"])
    return {"deletedFileIds": deleted, "userErrors": errors}


def _media_reordered(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    job, errors = media.reorder_media(ctx.state, args["id"], args["moves"])
    return {"job": job, "mediaUserErrors": errors}


RESOLVERS["Mutation"] = {
    "productSet": _root(_product_set, "input", "synchronous", "identifier"),
    "productCreate": _root(_created, "product", "media"),
    "productUpdate": _root(_updated, "product", "media", "identifier"),
    "productReorderMedia": _root(_media_reordered, "id", "moves"),
    "fileUpdate": _root(_files_updated, "files"),
    "fileDelete": _root(_files_deleted, "fileIds"),
    "productDelete": _root(_product_delete, "input", "synchronous"),
    "productVariantsBulkUpdate": _root(_variants_update, "productId", "variants", "allowPartialUpdates", "media"),
    "productVariantsBulkCreate": _root(_variants_create, "productId", "variants", "strategy", "media"),
    "translationsRegister": _root(_registered, "resourceId", "translations"),
    "translationsRemove": _root(_removed, "resourceId", "translationKeys", "locales", "marketIds"),
    "webhookSubscriptionCreate": _root(_webhook_create, "topic", "webhookSubscription"),
    "webhookSubscriptionDelete": _root(_webhook_delete, "id"),
    "metafieldsSet": _root(_metafields_set, "metafields"),
    "inventoryBulkToggleActivation": _root(_toggle_activation, "inventoryItemId", "inventoryItemUpdates"),
}

_ERROR_FIELDS = ("field", "message", "code")
RESOLVERS.update(
    {
        "ProductSetPayload": keys("product", "productSetOperation", "userErrors"),
        "ProductCreatePayload": keys("product", "shop", "userErrors"),
        "ProductUpdatePayload": keys("product", "userErrors"),
        "ProductReorderMediaPayload": keys("job", "mediaUserErrors"),
        "FileUpdatePayload": keys("files", "userErrors"),
        "FileDeletePayload": keys("deletedFileIds", "userErrors"),
        "Job": {"id": resolvers.attr("gid"), "done": resolvers.attr("done")},
        "MediaUserError": keys(*_ERROR_FIELDS),
        "FilesUserError": keys(*_ERROR_FIELDS),
        "ProductDeletePayload": keys("deletedProductId", "shop", "userErrors"),
        "ProductVariantsBulkUpdatePayload": keys("product", "productVariants", "userErrors"),
        "ProductVariantsBulkCreatePayload": keys("product", "productVariants", "userErrors"),
        "TranslationsRegisterPayload": keys("translations", "userErrors"),
        "TranslationsRemovePayload": keys("translations", "userErrors"),
        "WebhookSubscriptionCreatePayload": keys("webhookSubscription", "userErrors"),
        "WebhookSubscriptionDeletePayload": keys("deletedWebhookSubscriptionId", "userErrors"),
        "MetafieldsSetPayload": keys("metafields", "userErrors"),
        "InventoryBulkToggleActivationPayload": keys("inventoryItem", "inventoryLevels", "userErrors"),
        "InventoryBulkToggleActivationUserError": keys(*_ERROR_FIELDS),
        "MetafieldsSetUserError": keys(*_ERROR_FIELDS, "elementIndex"),
        "UserError": keys("field", "message"),
        "ProductSetUserError": keys(*_ERROR_FIELDS),
        "TranslationUserError": keys(*_ERROR_FIELDS),
        "ProductVariantsBulkUpdateUserError": keys(*_ERROR_FIELDS),
        "ProductVariantsBulkCreateUserError": keys(*_ERROR_FIELDS),
    }
)
