"""ShopifyAdapter: the ChannelAdapter over Shopify's Admin GraphQL API 2026-04.

Per product, export_batch sends (documents.py names each document):

1. Identity: with an external id, ProductState reads the product (productSet
   replaces the variant and option lists, so their ids must be sent back);
   without one, ProductIdBySku looks the SKU up first and links the product
   it finds instead of creating a duplicate. A product with several variants
   is refused: this connector exports single-variant products and would
   delete the others. ProductState reads the product's media and the
   image-source metafield too (media.py). A document carrying stock reads the
   product with ProductStockState instead, which adds the variant's stock at
   the export location; where the variant is not stocked there (a product the
   merchant made, stocked at other locations), InventoryBulkToggleActivation
   stocks it, since productSet sets quantities only where a variant is
   stocked.
2. ProductSet writes the primary locale's fields and every shared field, and
   a new product's image; media.py says how an update changes the image
   instead, by targeted mutations that touch only the connector's own media.
3. For the other locales, TranslatableContent reads the digests of the source
   content just written, TranslationsRegister sends every locale's values in
   one call, and TranslationsRemove drops translations sent as None. Where the
   document changes a field's primary-locale text, the translations of that
   field the PIM did not change (document.unchanged) are registered again with
   the new digest: Shopify marks a translation outdated once its source
   changes, and the PIM says it still stands.

The product is written before its translations, so a translation failure
still returns the product's external id: ItemResult(ok=False, external_id=...,
locale=<first failing locale>, code=...), with every failing locale in the
message. Request-level failures raise the ChannelError of client.py; nothing
is retried here. A product just created may be missing from Shopify's search
index for a moment, so a lost answer followed by an immediate retry could still
duplicate it; the engine's backoff makes that unlikely.

fetch_products reads stock at the location exports write it to (the
credentials' locationId, else the shop's primary location), never the total
over every location, and translations of every shop locale, published or not.

register_webhooks (the WebhookRegistrar capability) lists the subscriptions
of the callback URL, then creates only the missing topics; unregister_webhooks
deletes them, and webhook_callbacks lists every address the product topics
are delivered to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx

from app.channels.base import (
    ChannelDocument,
    ChannelInfo,
    ChannelRejected,
    ItemResult,
    RateGate,
    RemoteProduct,
    WebhookRegistration,
)
from app.channels.shopify import documents as gql
from app.channels.shopify.client import ShopifyClient, ShopifyCredentials
from app.channels.shopify.mapper import (
    ExportContext,
    LocaleFailure,
    MappingProblem,
    TranslationPlan,
    check_export,
    check_title,
    only_translations_changed,
    product_set_result,
    product_set_variables,
    remote_product,
    removal_groups,
    translation_failures,
    translation_inputs,
    translation_plan,
    translation_result,
)
from app.channels.shopify.media import NO_CHANGE, ProductMedia, image_plan
from app.channels.shopify.schemas import (
    JsonObject,
    ProductState,
    ShopContext,
    field_of,
    parse_product_set,
    parse_product_state,
    parse_shop_context,
    parse_translatable_content,
    parse_translation_times,
    parse_translations,
    parse_variant_page,
    parse_webhook_create,
    parse_webhook_page,
    parse_webhook_subscriptions,
    product_ids_by_sku,
    sku_query,
    sku_term,
)
from app.domain.errors import ErrorCode

WEBHOOK_TOPICS = ("PRODUCTS_UPDATE", "PRODUCTS_DELETE")
"""What the service listens to: products/update and products/delete (a product created on Shopify is not the
PIM's; an update of one the PIM exported, or its deletion, is)."""

MAX_BATCH_SIZE = 1
"""productSet takes one product per call (spec.SPEC.batch_size); a batch of one also means a request that
fails mid-way never loses the results of products already written."""


class ProductNotDeleted(ChannelRejected):
    """Shopify refused to delete the product (CHN-033)."""

    code = ErrorCode.DELETE_FAILED


class ShopifyAdapter:
    """ChannelAdapter for one shop; credentials decrypted by the caller, `endpoint` overrides the shop's URL."""

    max_batch_size: int = MAX_BATCH_SIZE

    def __init__(
        self,
        credentials: Mapping[str, Any],
        http: httpx.AsyncClient,
        *,
        timeout: float,
        gate: RateGate | None = None,
        endpoint: str | None = None,
        connector: str | None = None,
    ) -> None:
        self._client = ShopifyClient(
            ShopifyCredentials.parse(credentials),
            http,
            timeout=timeout,
            gate=gate,
            endpoint=endpoint,
            connector=connector,
        )
        self._media = ProductMedia(self._client)
        self._shop: ShopContext | None = None
        self._location_id: str | None = self._client.credentials.location_id

    def __repr__(self) -> str:
        return f"ShopifyAdapter(shopDomain={self._client.credentials.shop_domain!r})"

    async def _context(self, *, fresh: bool = False) -> ShopContext:
        if self._shop is None or fresh:
            self._shop = await self._client.data(gql.SHOP_INFO, {}, parse_shop_context)
        return self._shop

    async def _primary_locale(self) -> str:
        primary = (await self._context()).primary_locale
        if primary is None:
            raise ChannelRejected("Shopify ShopInfo: the shop reports no primary locale")
        return primary

    async def test_connection(self) -> ChannelInfo:
        """ShopInfo: proves the token works and learns the shop's name, locales and currencies.

        `supported_locales` is every shop locale, published or not: the locales a connector may map, since
        exports write translations into an unpublished locale too (and read them back from it). The shop answering
        with another version than the pinned one is a note, not a failure: its answers were read, but they follow
        a schema this service was not written against."""
        shop = await self._context(fresh=True)
        note = self._client.version_note()
        currencies = tuple(dict.fromkeys((shop.currency, *shop.presentment_currencies)))
        return ChannelInfo(
            store_name=shop.name,
            supported_locales=shop.locale_codes,
            product_count=shop.product_count,
            primary_locale=shop.primary_locale,
            currencies=currencies,
            notes=(note,) if note else (),
        )

    # -- export ----------------------------------------------------------------------------------

    async def export_batch(self, documents: Sequence[ChannelDocument]) -> list[ItemResult]:
        """Create or update each product (productSet) and its translations; one result per document, in order."""
        if len(documents) > self.max_batch_size:
            raise ValueError(f"Shopify takes at most {self.max_batch_size} products per batch, got {len(documents)}")
        results = []
        for document in documents:
            results.append(self._reported(await self._export(document)))
        return results

    def _reported(self, result: ItemResult) -> ItemResult:
        """The result as the job records it and users read it: a message made of Shopify's userErrors may echo
        what was sent, and lists every error, so it is scrubbed of the connector's secrets and cut, as every
        other message from Shopify is (client.scrub)."""
        if result.message is None:
            return result
        return replace(result, message=self._client.scrub(result.message))

    async def _export(self, document: ChannelDocument) -> ItemResult:
        try:
            context = await self._checked(document)
            if only_translations_changed(document, context.primary_locale):
                return await self._translations_only(document, context.primary_locale)
            location = context.location_id
            found = await self._existing(document, location)
            if isinstance(found, ItemResult):
                return found
            variables = product_set_variables(document, context, found)
            plan = NO_CHANGE  # a product created gets its image from productSet
            if found is not None and "imageUrl" in document.fields:
                plan = image_plan(document.fields["imageUrl"], found)
        except MappingProblem as problem:
            return problem.result(document)
        current_id = found.id if found else None
        if found is not None and location is not None:
            unstocked = await self._stock_at(document, found, location)
            if unstocked is not None:
                return unstocked
        answer = await self._client.data(gql.PRODUCT_SET, variables, parse_product_set)
        if answer.errors:
            return product_set_result(
                document, answer.errors, external_id=current_id, primary_locale=context.primary_locale
            )
        product_id = answer.product_id
        if product_id is None:
            code = ErrorCode.CREATE_FAILED if current_id is None else ErrorCode.UPDATE_FAILED
            message = "Shopify answered productSet without the product's id"
            return ItemResult(sku=document.sku, ok=False, external_id=current_id, code=code, message=message)
        if found is None:
            image_failure = await self._media.remember(document, product_id, answer.media_id)
        else:
            image_failure = await self._media.change(document, found, plan)
        if image_failure is not None:
            return image_failure
        failures = await self._translate(product_id, translation_plan(document, context.primary_locale))
        if failures:
            return translation_result(document.sku, product_id, failures)
        return ItemResult(sku=document.sku, ok=True, external_id=product_id)

    async def check_batch(self, documents: Sequence[ChannelDocument]) -> list[ItemResult | None]:
        """What export_batch refuses before sending (mapper.check_export, then check_title), as it reports it.
        Reads the shop's settings (and its stock location, for a document carrying stock), nothing of the products:
        a document without an external id is created (the engine looked its SKU up), where export_batch looks the
        SKU up itself."""
        results: list[ItemResult | None] = []
        for document in documents:
            try:
                context = await self._checked(document)
                check_title(document, context, creating=document.external_id is None)
            except MappingProblem as problem:
                results.append(self._reported(problem.result(document)))
            else:
                results.append(None)
        return results

    async def _checked(self, document: ChannelDocument) -> ExportContext:
        """The context `document` is exported in, once it passed mapper.check_export (MappingProblem otherwise)."""
        context = await self._export_context()
        if "inventoryQuantity" in document.fields:
            context = replace(context, location_id=await self._location())
        check_export(document, context)
        return context

    async def _translations_only(self, document: ChannelDocument, primary_locale: str) -> ItemResult:
        """Only translations changed: no productSet (and no product update on Shopify), just translationsRegister."""
        assert document.external_id is not None
        failures = await self._translate(document.external_id, translation_plan(document, primary_locale))
        if failures:
            return translation_result(document.sku, document.external_id, failures)
        return ItemResult(sku=document.sku, ok=True, external_id=document.external_id)

    async def _export_context(self) -> ExportContext:
        shop = await self._context()
        primary = await self._primary_locale()
        return ExportContext(primary_locale=primary, shop_locales=shop.all_locales, weight_unit=shop.weight_unit)

    async def _existing(self, document: ChannelDocument, location: str | None) -> ProductState | ItemResult | None:
        """The product to update (read first, with its stock at `location` when the document sends stock), None
        to create, or the item's failure."""
        product_id = document.external_id
        if product_id is None:
            ids = await self._products_with_sku(document.sku)
            if not ids:
                return None
            if len(ids) > 1:
                return ItemResult(
                    sku=document.sku,
                    ok=False,
                    code=ErrorCode.CREATE_FAILED,
                    message=f"the SKU is on {len(ids)} Shopify products ({', '.join(ids)}); link one by hand",
                )
            product_id = ids[0]
        if not product_id.startswith("gid://shopify/Product/"):
            return self._missing(document, f"{product_id!r} is not a Shopify product id")
        operation, variables = (
            (gql.PRODUCT_STATE, {"id": product_id})
            if location is None
            else (gql.PRODUCT_STOCK_STATE, {"id": product_id, "locationId": location})
        )
        state = await self._client.data(
            operation,
            variables,
            lambda data: None if data.get("product") is None else parse_product_state(data["product"]),
        )
        if state is None:
            return self._missing(document, f"product {product_id} no longer exists on Shopify")
        if state.variant_count > 1:
            return ItemResult(
                sku=document.sku,
                ok=False,
                external_id=state.id,
                code=ErrorCode.UPDATE_FAILED,
                message=f"product {state.id} has {state.variant_count} variants; only single-variant products are "
                "exported, and productSet would delete the others",
            )
        return await self._media.read_all(document, state)

    async def _products_with_sku(self, sku: str) -> list[str]:
        """Every product holding a variant whose SKU is exactly `sku`, page by page: the search matches loosely, so
        the exact one may come after a page of others."""
        ids: list[str] = []
        variables = {"query": sku_term(sku), "first": gql.LOOKUP_PAGE_SIZE}
        async for found in self._client.pages(gql.PRODUCT_ID_BY_SKU, variables, lambda d: product_ids_by_sku(d, sku)):
            ids.extend(product_id for product_id in found if product_id not in ids)
        return ids

    async def _stock_at(self, document: ChannelDocument, state: ProductState, location: str) -> ItemResult | None:
        """Stock the variant at `location` when the state read shows it is not (a product the merchant made may
        be stocked at other locations only): productSet sets quantities only where a variant is stocked. The
        item's failure, or None; a variant stocked there already costs no request."""
        stock = state.stock
        if stock is None or stock.stocked:
            return None
        variables = {
            "inventoryItemId": stock.inventory_item_id,
            "inventoryItemUpdates": [{"locationId": location, "activate": True}],
        }
        errors = await self._client.mutation_errors(gql.INVENTORY_ACTIVATE, "inventoryBulkToggleActivation", variables)
        if not errors:
            return None
        reasons = "; ".join(error.message for error in errors)
        return ItemResult(
            sku=document.sku,
            ok=False,
            external_id=state.id,
            code=ErrorCode.UPDATE_FAILED,
            message=f"inventoryQuantity: Shopify would not stock the variant at {location}: {reasons}",
        )

    @staticmethod
    def _missing(document: ChannelDocument, message: str) -> ItemResult:
        return ItemResult(
            sku=document.sku,
            ok=False,
            external_id=document.external_id,
            code=ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL,
            message=message,
        )

    async def _location(self) -> str:
        """Where inventoryQuantity is written and read: the credentials' locationId, else the shop's primary
        location (QueryRoot.location without an id), resolved once per adapter."""
        if self._location_id is None:
            self._location_id = await self._client.data(
                gql.PRIMARY_LOCATION, {}, lambda data: str(field_of(data, "location", "id") or "") or None
            )
            if self._location_id is None:
                raise ChannelRejected("Shopify PrimaryLocation: the shop has no location to hold stock")
        return self._location_id

    async def _translate(self, product_id: str, plan: TranslationPlan) -> list[LocaleFailure]:
        """Register and remove the plan's translations; the locales that failed, and why."""
        failures: list[LocaleFailure] = []
        if plan.register or plan.refresh:
            content = await self._client.data(
                gql.TRANSLATABLE_CONTENT, {"resourceId": product_id}, parse_translatable_content
            )
            if content is None:
                return [
                    LocaleFailure(locale, ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL, "the product is not translatable")
                    for locale in {**plan.register, **plan.refresh}
                ]
            inputs, failures = translation_inputs(plan, content)
            if inputs:
                variables = {"resourceId": product_id, "translations": inputs}
                errors = await self._client.mutation_errors(
                    gql.TRANSLATIONS_REGISTER, "translationsRegister", variables
                )
                failures += translation_failures(errors, inputs)
        for keys, locales in removal_groups(plan):
            variables = {"resourceId": product_id, "translationKeys": list(keys), "locales": list(locales)}
            errors = await self._client.mutation_errors(gql.TRANSLATIONS_REMOVE, "translationsRemove", variables)
            failures += translation_failures(errors, (), locales)
        return failures

    # -- read back -------------------------------------------------------------------------------

    async def fetch_products(self, skus: Sequence[str]) -> dict[str, RemoteProduct]:
        """The shop's current state of these SKUs, translations included; a SKU Shopify lacks is absent.

        A SKU held by two variants raises ChannelRejected: reporting either
        one could bind the wrong product, reporting none would read as
        "deleted on the channel".
        """
        wanted = list(dict.fromkeys(skus))
        if not all(isinstance(sku, str) and sku for sku in wanted):
            raise ValueError("SKUs must be non-empty strings")
        primary = await self._primary_locale()
        nodes: dict[str, JsonObject] = {}
        for chunk in _chunks(wanted, gql.FETCH_PAGE_SIZE):
            await self._variants(chunk, nodes)
        product_ids = list(dict.fromkeys(str(field_of(node, "product", "id")) for node in nodes.values()))
        translations, translated_at = await self._translations(product_ids)
        found: dict[str, RemoteProduct] = {}
        for sku, node in nodes.items():
            product_id = str(field_of(node, "product", "id"))
            try:
                found[sku] = remote_product(
                    node,
                    primary_locale=primary,
                    translations=translations.get(product_id, {}),
                    translated_at=translated_at.get(product_id),
                )
            except ValueError as exc:
                raise ChannelRejected(self._client.scrub(f"Shopify ProductsBySku: {sku!r}: {exc}")) from None
        return found

    async def _translations(
        self, product_ids: list[str]
    ) -> tuple[dict[str, dict[str, dict[str, str | None]]], dict[str, datetime]]:
        """product id → locale → translation key → value, for every shop locale but the primary one, published
        or not (the locales exports write to: a locale missing here would read as every translation cleared);
        and product id → when its latest translation changed."""
        found: dict[str, dict[str, dict[str, str | None]]] = {product_id: {} for product_id in product_ids}
        latest: dict[str, datetime] = {}
        for locale in (await self._context()).translation_locales:
            for chunk in _chunks(product_ids, gql.FETCH_PAGE_SIZE):
                variables = {"resourceIds": chunk, "first": len(chunk), "locale": locale}
                answer, times = await self._client.data(
                    gql.PRODUCT_TRANSLATIONS,
                    variables,
                    lambda data: (parse_translations(data), parse_translation_times(data)),
                )
                for product_id in chunk:
                    found[product_id][locale] = answer.get(product_id, {})
                for product_id, when in times.items():
                    latest[product_id] = max(when, latest.get(product_id, when))
        return found, latest

    async def _variants(self, chunk: list[str], nodes: dict[str, JsonObject]) -> None:
        """Every variant whose SKU is exactly one of `chunk`, page by page, into `nodes`; stock is read at the
        location exports write it to, so a stock written reads back as written."""
        location = await self._location()
        asked = set(chunk)
        after: str | None = None
        while True:
            variables = {
                "query": sku_query(chunk),
                "first": gql.FETCH_PAGE_SIZE,
                "after": after,
                "locationId": location,
            }
            page = await self._client.data(gql.PRODUCTS_BY_SKU, variables, parse_variant_page)
            for node in page.nodes:
                sku = node.get("sku")
                if not isinstance(sku, str) or sku not in asked:
                    continue  # Shopify's search matches loosely; only exact SKUs are ours
                if not isinstance(field_of(node, "product", "id"), str):
                    raise ChannelRejected(f"Shopify ProductsBySku: the variant of {sku!r} has no product id")
                if sku in nodes and nodes[sku].get("id") != node.get("id"):
                    raise ChannelRejected(f"Shopify holds the SKU {sku!r} on more than one variant; make it unique")
                nodes[sku] = node
            if page.next_cursor is None:
                return
            after = page.next_cursor

    async def delete_product(self, external_id: str) -> None:
        """productDelete. A product that no longer exists counts as deleted, so a retry after a lost answer
        does not fail."""
        if not external_id:
            raise ValueError("external_id must not be empty")
        errors = await self._client.mutation_errors(gql.PRODUCT_DELETE, "productDelete", {"input": {"id": external_id}})
        remaining = [e for e in errors if not _is_missing(e.message)]
        if remaining:
            message = "; ".join(error.message for error in remaining)
            raise ProductNotDeleted(self._client.scrub(f"Shopify productDelete {external_id}: {message}"))

    # -- webhooks --------------------------------------------------------------------------------

    async def register_webhooks(self, callback_url: str) -> WebhookRegistration:
        """Subscribe WEBHOOK_TOPICS to `callback_url` (JSON), creating only the topics it does not have yet.

        Shopify signs deliveries with the app's secret whether or not the
        connector holds it, so subscriptions are made either way. A userError
        raises ChannelRejected (CHN-022) with Shopify's message; topics
        subscribed before it stay, and the next call creates only the rest.
        """
        if not callback_url:
            raise ValueError("callback_url must not be empty")
        listed = {"uri": callback_url, "topics": list(WEBHOOK_TOPICS), "first": gql.WEBHOOK_PAGE_SIZE}
        found = await self._client.data(gql.WEBHOOK_SUBSCRIPTIONS, listed, parse_webhook_subscriptions)
        existing = {subscription.topic for subscription in found if subscription.uri == callback_url}
        created: list[str] = []
        refused: list[str] = []
        for topic in (topic for topic in WEBHOOK_TOPICS if topic not in existing):
            variables = {"topic": topic, "webhookSubscription": {"uri": callback_url, "format": "JSON"}}
            errors, subscription = await self._client.data(
                gql.WEBHOOK_SUBSCRIPTION_CREATE, variables, parse_webhook_create
            )
            if errors or subscription is None:
                reason = "; ".join(error.message for error in errors) or "answered without the subscription"
                refused.append(f"{topic}: {reason}")
            else:
                created.append(topic)
        if refused:
            raise ChannelRejected(self._client.scrub(f"Shopify webhookSubscriptionCreate: {'; '.join(refused)}"))
        return WebhookRegistration(
            callback_url=callback_url,
            created=tuple(created),
            existing=tuple(topic for topic in WEBHOOK_TOPICS if topic in existing),
            secret_configured=self._client.credentials.webhook_secret is not None,
        )

    async def unregister_webhooks(self, callback_url: str) -> tuple[str, ...]:
        """Delete this app's WEBHOOK_TOPICS subscriptions delivering to `callback_url`; the topics deleted.

        A subscription already gone counts as deleted, so calling it again
        deletes nothing and fails nothing. Any other userError raises
        ChannelRejected (CHN-022) with Shopify's message.
        """
        if not callback_url:
            raise ValueError("callback_url must not be empty")
        listed = {"uri": callback_url, "topics": list(WEBHOOK_TOPICS), "first": gql.WEBHOOK_PAGE_SIZE}
        found = await self._client.data(gql.WEBHOOK_SUBSCRIPTIONS, listed, parse_webhook_subscriptions)
        deleted: list[str] = []
        refused: list[str] = []
        for subscription in (s for s in found if s.uri == callback_url):
            variables = {"id": subscription.id}
            errors = await self._client.mutation_errors(
                gql.WEBHOOK_SUBSCRIPTION_DELETE, "webhookSubscriptionDelete", variables
            )
            remaining = [error.message for error in errors if not _is_missing(error.message)]
            if remaining:
                refused.append(f"{subscription.topic}: {'; '.join(remaining)}")
            else:
                deleted.append(subscription.topic)
        if refused:
            raise ChannelRejected(self._client.scrub(f"Shopify webhookSubscriptionDelete: {'; '.join(refused)}"))
        return tuple(deleted)

    async def webhook_callbacks(self) -> tuple[str, ...]:
        """Every address this app's WEBHOOK_TOPICS subscriptions deliver to, in Shopify's order."""
        callbacks: dict[str, None] = {}
        variables = {"topics": list(WEBHOOK_TOPICS), "first": gql.WEBHOOK_PAGE_SIZE}
        async for found in self._client.pages(gql.WEBHOOK_SUBSCRIPTIONS_BY_TOPIC, variables, parse_webhook_page):
            callbacks.update(dict.fromkeys(subscription.uri for subscription in found))
        return tuple(callbacks)


def _is_missing(message: str) -> bool:
    lowered = message.lower()
    return "does not exist" in lowered or "not found" in lowered or "doesn't exist" in lowered


def _chunks(values: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])
