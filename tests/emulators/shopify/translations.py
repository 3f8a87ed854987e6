"""Product translations: translatableContent with digests, translationsRegister and translationsRemove.

What Shopify enforces, from the 2026-04 SDL and TranslationErrorCode:
- each translation names a key of the resource's translatableContent
  (title, body_html, handle, product_type, meta_title, meta_description for a
  PRODUCT), else INVALID_KEY_FOR_MODEL;
- its translatableContentDigest is the digest Shopify reports for that key
  now, the SHA-256 hex of the source value, else INVALID_TRANSLATABLE_CONTENT
  ("Translatable content hash is invalid", the message Shopify answers); a
  key with no source value cannot be translated at all;
- its locale is one of the shop's locales other than the primary one, else
  INVALID_LOCALE_FOR_SHOP. Shopify accepts translations for an added but not
  yet published locale (merchants translate before publishing); the emulator
  does too unless built with require_published_locales=True;
- a blank value is BLANK.
A translation remembers the digest it was registered against, so once the
source text changes it reads `outdated: true`, as on Shopify.

The emulator registers all of a call's translations or none: with any
userError, nothing is stored and `translations` is null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .fields import UserError, refuse_unknown, user_error
from .model import TRANSLATABLE_KEYS, Product, ShopState, Translation, digest, iso_utc, parse_gid
from .schema import not_implemented


def resource_product(state: ShopState, resource_id: str) -> Product | None:
    """The product behind a translatable resource id; other resource types are not emulated."""
    kind, number = parse_gid(resource_id)
    if kind != "Product":
        raise not_implemented(f"translatable resources of type {kind}")
    return state.products.get(number)


def translatable_content(state: ShopState, product: Product) -> list[dict[str, Any]]:
    locale = state.primary_locale
    content = []
    for key, kind in TRANSLATABLE_KEYS.items():
        value = product.source_value(key)
        content.append({"key": key, "value": value, "digest": digest(value), "locale": locale, "type": kind})
    return content


def view(product: Product, translation: Translation) -> dict[str, Any]:
    """A Translation object as the API returns it."""
    return {
        "key": translation.key,
        "value": translation.value,
        "locale": translation.locale,
        "outdated": product.is_outdated(translation),
        "updatedAt": iso_utc(translation.updated_at),
    }


def translations_for(product: Product, locale: str, outdated: bool | None = None) -> list[dict[str, Any]]:
    found = [t for (loc, _), t in product.translations.items() if loc == locale]
    found.sort(key=lambda t: list(TRANSLATABLE_KEYS).index(t.key))
    return [view(product, t) for t in found if outdated is None or product.is_outdated(t) == outdated]


def _locale_error(state: ShopState, locale: str, at: tuple[str, ...], *, require_published: bool) -> UserError | None:
    known = next((loc for loc in state.locales if loc.locale == locale), None)
    if known is None or known.primary or (require_published and not known.published):
        return user_error(at, f"Locale {locale} is invalid for the shop", "INVALID_LOCALE_FOR_SHOP")
    return None


def register(
    state: ShopState,
    resource_id: str,
    inputs: Sequence[Mapping[str, Any]],
    *,
    require_published: bool = False,
) -> tuple[list[dict[str, Any]] | None, list[UserError]]:
    product = resource_product(state, resource_id)
    if product is None:
        return None, [user_error(("resourceId",), "Resource does not exist", "RESOURCE_NOT_FOUND")]
    errors: list[UserError] = []
    for i, item in enumerate(inputs):
        refuse_unknown("TranslationInput", item, ("locale", "key", "value", "translatableContentDigest", "marketId"))
        if item.get("marketId"):
            raise not_implemented("TranslationInput.marketId (market-specific translations)")
        at = ("translations", str(i))
        key = item["key"]
        locale_error = _locale_error(state, item["locale"], (*at, "locale"), require_published=require_published)
        if locale_error:
            errors.append(locale_error)
        elif key not in TRANSLATABLE_KEYS:
            errors.append(
                user_error((*at, "key"), f"Key {key} is not a valid translation key", "INVALID_KEY_FOR_MODEL")
            )
        elif product.source_value(key) is None or item["translatableContentDigest"] != digest(
            product.source_value(key)
        ):
            where = (*at, "translatableContentDigest")
            errors.append(user_error(where, "Translatable content hash is invalid", "INVALID_TRANSLATABLE_CONTENT"))
        elif not item["value"].strip():
            errors.append(user_error((*at, "value"), "Value can't be blank", "BLANK"))
    if errors:
        return None, errors
    stored: list[Translation] = []
    for item in inputs:
        slot = (item["locale"], item["key"])
        previous = product.translations.get(slot)
        translation = Translation(
            locale=item["locale"],
            key=item["key"],
            value=item["value"],
            source_digest=item["translatableContentDigest"],
            updated_at=state.stamp(previous.updated_at if previous else None),
        )
        product.translations[slot] = translation
        stored.append(translation)
    return [view(product, t) for t in stored], []


def remove(
    state: ShopState,
    resource_id: str,
    keys: Sequence[str],
    locales: Sequence[str],
    market_ids: Sequence[str] | None,
) -> tuple[list[dict[str, Any]] | None, list[UserError]]:
    if market_ids:
        raise not_implemented("translationsRemove(marketIds:)")
    product = resource_product(state, resource_id)
    if product is None:
        return None, [user_error(("resourceId",), "Resource does not exist", "RESOURCE_NOT_FOUND")]
    errors: list[UserError] = []
    for i, locale in enumerate(locales):
        locale_error = _locale_error(state, locale, ("locales", str(i)), require_published=False)
        if locale_error:
            errors.append(locale_error)
    for i, key in enumerate(keys):
        if key not in TRANSLATABLE_KEYS:
            message = f"Key {key} is not a valid translation key"
            errors.append(user_error(("translationKeys", str(i)), message, "INVALID_KEY_FOR_MODEL"))
    if errors:
        return None, errors
    removed = []
    for slot in [s for s in product.translations if s[0] in locales and s[1] in keys]:
        removed.append(view(product, product.translations.pop(slot)))
    return removed, []


def set_translation(state: ShopState, product: Product, locale: str, key: str, value: str | None) -> None:
    """An edit in the admin's translation editor: current digest (not outdated); None deletes."""
    if value is None:
        product.translations.pop((locale, key), None)
        return
    previous = product.translations.get((locale, key))
    product.translations[(locale, key)] = Translation(
        locale, key, value, digest(product.source_value(key)), state.stamp(previous.updated_at if previous else None)
    )
