"""Input fields shared by productSet and the variant mutations: prices, SKUs, weights, stock, images.

Kept apart from products.py so productVariantsBulkCreate/Update (catalog.py)
apply a variant's fields exactly as productSet does, with the same checks.
Input the emulator does not model is refused loudly (`refuse_unknown`).
"""

from __future__ import annotations

import copy
import html
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from graphql import GraphQLInputObjectType, Undefined
from graphql.utilities.coerce_input_value import coerce_default_value

from .model import Media, Product, ShopState, Variant, Weight, parse_gid
from .schema import admin_schema, not_implemented

UserError = dict[str, Any]
QUANTITY_NAMES = ("available", "on_hand")
MAX_TEXT = 255
"""The longest title, handle, vendor, product type, tag, SKU or barcode Shopify stores: its userErrors say
"... is too long (maximum is 255 characters)" (the SDL states the same for a combined listing's title, an
inventory shipment's barcode and a customer's tags)."""
PRICE_LIMIT = Decimal(10) ** 18
"""Shopify refuses a price or compare-at price of 10^18 or more ("Price must be less than 1000000000000000000"):
Money is a decimal string, so a larger amount passes GraphQL and is refused as the variant's userError."""
INVENTORY_ITEM_FIELDS = {"sku", "tracked", "measurement", "requiresShipping"}


def user_error(path: Iterable[str], message: str, code: str | None) -> UserError:
    return {"field": list(path), "message": message, "code": code}


def refuse_unknown(type_name: str, given: Mapping[str, Any], supported: Iterable[str]) -> None:
    """Input fields the emulator does not model fail the request instead of being dropped.

    A field graphql-core filled in from its SDL default (FileSetInput.duplicateResolutionMode
    = APPEND_UUID) is not the client's choice and passes while it holds that default.
    """
    allowed = set(supported)
    input_type = admin_schema().type_map.get(type_name)
    for key, value in given.items():
        if key in allowed:
            continue
        declared = input_type.fields.get(key) if isinstance(input_type, GraphQLInputObjectType) else None
        has_default = declared is not None and (declared.default is not None or declared.default_value is not Undefined)
        if declared is not None and has_default and value == coerce_default_value(declared):
            continue
        raise not_implemented(f"{type_name}.{key}")


def money(value: Any) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def too_long(path: Sequence[str], label: str, value: Any, code: str | None) -> UserError | None:
    """Shopify's userError for text longer than MAX_TEXT characters; None for text that fits (or no text)."""
    if not isinstance(value, str) or len(value) <= MAX_TEXT:
        return None
    return user_error(path, f"{label} is too long (maximum is {MAX_TEXT} characters)", code)


def normalize_tags(tags: Sequence[str] | None) -> list[str]:
    """Split at commas, trimmed, de-duplicated case-insensitively, sorted: how Shopify stores and returns tags.

    Shopify keeps a product's tags as one comma-separated list (Product.tags: "A comma-separated list of
    searchable keywords"; its product CSVs and products/update webhooks carry them joined with ", "), so a tag
    sent with a comma in it comes back as several."""
    seen: dict[str, str] = {}
    for cleaned in (part.strip() for tag in tags or () for part in tag.split(",")):
        if cleaned and cleaned.casefold() not in seen:
            seen[cleaned.casefold()] = cleaned
    return sorted(seen.values(), key=str.casefold)


VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


class _Serialiser(HTMLParser):
    """Markup parsed and written back out the way an HTML5 serialiser writes it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    @staticmethod
    def _attributes(attrs: list[tuple[str, str | None]]) -> str:
        return "".join(f' {name}="{html.escape(value or "", quote=True)}"' for name, value in attrs)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(f"<{tag}{self._attributes(attrs)}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.out.append(f"</{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID_ELEMENTS:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False).replace("\u00a0", "&nbsp;"))

    def handle_comment(self, data: str) -> None:
        self.out.append(f"<!--{data}-->")


def reserialise_html(markup: str) -> str:
    """`markup` after an HTML5 parse and serialise: void elements lose their "/" (<br/> is <br>), attribute
    values are double-quoted, and text is escaped again (a bare & is &amp;, U+00A0 is &nbsp;).

    What ShopState.reformat_html applies to descriptionHtml. Shopify's Admin API does not document how it
    rewrites a description (the SDL says only "the description of the product, with HTML tags"), so this is
    opt-in: it lets a test check that a client compares against what the shop stored, not what it sent.
    """
    serialiser = _Serialiser()
    serialiser.feed(markup)
    serialiser.close()
    return "".join(serialiser.out)


def new_variant(state: ShopState, product_id: int, values: list[str]) -> Variant:
    return Variant(id=state.next_id(), product_id=product_id, inventory_item_id=state.next_id(), option_values=values)


def apply_variant_fields(
    state: ShopState,
    variant: Variant,
    raw: Mapping[str, Any],
    at: tuple[str, ...],
    errors: list[UserError],
    *,
    stocked_only: bool,
    code: str = "INVALID_VARIANT",
) -> None:
    """Price, SKU, barcode, weight, inventory... of one ProductVariantSetInput/ProductVariantsBulkInput."""
    for key, attribute in (("price", "price"), ("compareAtPrice", "compare_at_price")):
        if key not in raw:
            continue
        label = "Price" if key == "price" else "Compare at price"
        amount = None if raw[key] is None else Decimal(str(raw[key]))  # finite: the Money scalar refuses the rest
        if raw[key] is None and key == "price":
            # A variant always has a price (ProductVariant.price is Money!): null clears only compareAtPrice.
            errors.append(user_error((*at, key), "Price can't be blank", code))
        elif amount is None:
            setattr(variant, attribute, None)
        elif amount < 0:
            errors.append(user_error((*at, key), f"{label} must be greater than or equal to 0", code))
        elif amount >= PRICE_LIMIT:
            errors.append(user_error((*at, key), f"{label} must be less than {PRICE_LIMIT:f}", code))
        else:
            setattr(variant, attribute, money(amount))
    for key, label in (("sku", "SKU"), ("barcode", "Barcode")):
        error = too_long((*at, key), label, raw.get(key), code)
        if error is not None:
            errors.append(error)
    for key, attribute in (("sku", "sku"), ("barcode", "barcode"), ("taxable", "taxable")):
        if key in raw:
            setattr(variant, attribute, raw[key])
    if raw.get("inventoryPolicy") is not None:
        variant.inventory_policy = raw["inventoryPolicy"]
    item = raw.get("inventoryItem") or {}
    refuse_unknown("InventoryItemInput", item, INVENTORY_ITEM_FIELDS)
    if "sku" in item:
        error = too_long((*at, "inventoryItem", "sku"), "SKU", item["sku"], code)
        if error is not None:
            errors.append(error)
        variant.sku = item["sku"]
    for key, attribute in (("tracked", "tracked"), ("requiresShipping", "requires_shipping")):
        if item.get(key) is not None:
            setattr(variant, attribute, item[key])
    measurement = item.get("measurement") or {}
    refuse_unknown("InventoryItemMeasurementInput", measurement, ("weight",))
    if "weight" in measurement:
        weight = measurement["weight"]
        if weight is not None and weight["value"] < 0:
            where = (*at, "inventoryItem", "measurement", "weight", "value")
            errors.append(user_error(where, "Weight must be greater than or equal to 0", code))
        else:
            variant.weight = Weight(float(weight["value"]), weight["unit"]) if weight else None
    for k, quantity in enumerate(raw.get("inventoryQuantities") or []):
        where = (*at, "inventoryQuantities", str(k))
        refuse_unknown("ProductSetInventoryInput", quantity, ("locationId", "name", "quantity"))
        location = state.location(quantity["locationId"])
        if location is None:
            errors.append(user_error((*where, "locationId"), "Location does not exist", "INVALID_INPUT"))
        elif quantity["name"] not in QUANTITY_NAMES:
            message = f"Quantity name must be one of {', '.join(QUANTITY_NAMES)}"
            errors.append(user_error((*where, "name"), message, "INVALID_INPUT"))
        elif stocked_only and location.id not in variant.levels:
            # ProductVariantSetInput.inventoryQuantities: "If you're updating an existing variant, then you can
            # only update the quantities at locations where the variant is already stocked." Setting a quantity
            # leaves `tracked` as it is: an untracked variant keeps selling past it.
            message = "Inventory quantities can only be updated at locations where the variant is stocked"
            errors.append(user_error((*where, "locationId"), message, "INVALID_INPUT"))
        else:
            level = variant.levels.setdefault(location.id, {})
            level[quantity["name"]] = quantity["quantity"]
            if quantity["name"] == "available":
                level["on_hand"] = quantity["quantity"]


def plan_media(
    state: ShopState, product: Product | None, files: Sequence[Mapping[str, Any]], errors: list[UserError]
) -> list[Media]:
    """The product's media after `files` (FileSetInput): an entry with an `id` keeps that media of the product;
    one with an `originalSource` is a new upload, as on Shopify, which keeps no record of the URL it
    downloaded from (its media only has its own CDN URL), so sending the same URL again re-uploads it."""
    existing = product.media if product else []
    planned: list[Media] = []
    for i, raw in enumerate(files):
        refuse_unknown("FileSetInput", raw, ("id", "originalSource", "alt", "contentType", "filename"))
        if raw.get("contentType") not in (None, "IMAGE"):
            raise not_implemented(f"FileSetInput.contentType {raw['contentType']}")
        at = ("input", "files", str(i))
        source = raw.get("originalSource")
        found = next((m for m in existing if m.id == parse_gid(raw["id"])[1]), None) if raw.get("id") else None
        if found is None and raw.get("id"):
            errors.append(user_error((*at, "id"), "File does not exist", "INVALID_INPUT"))
            continue
        if found is None and not source:
            errors.append(user_error((*at, "originalSource"), "Original source can't be blank", "INVALID_INPUT"))
            continue
        media = copy.deepcopy(found) if found else new_media(state, str(source))
        if "alt" in raw:
            media.alt = raw["alt"]
        planned.append(media)
    return planned


def new_media(state: ShopState, source: str) -> Media:
    """An image as Shopify keeps it: PROCESSING at first (unless state.media_ready), then re-hosted on its CDN;
    FAILED when the source is not an http(s) URL."""
    media_id = state.next_id()
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return Media(media_id, source, None, "FAILED", None, state.now())
    media = Media(media_id, source, None, "PROCESSING", None, state.now())
    if state.media_ready:
        finish_processing(state, media)
    return media


def finish_processing(state: ShopState, media: Media) -> None:
    """A PROCESSING image becomes READY with its CDN URL (the source's file name, versioned)."""
    if media.status != "PROCESSING":
        return
    name = urlsplit(media.source).path.rsplit("/", 1)[-1] or "image"
    media.status = "READY"
    media.url = f"https://cdn.shopify.com/s/files/1/0000/0001/files/{name}?v={int(state.now())}"
