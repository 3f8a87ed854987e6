"""Field mapping use cases: save a connector's whole set, read it, and preview an export.

The export plan built here is the same one the sync engine runs, so the
preview shows exactly what a sync would send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.registry import channel_type_spec, refusal_check
from app.container import Container
from app.db.models import Connector, FieldMapping
from app.domain.catalog import CatalogSpec
from app.domain.channels import ChannelType
from app.domain.conflicts import pim_is_newer
from app.domain.connectors import ConflictStrategy, check_chosen_locales, connector_not_found
from app.domain.errors import ErrorCode, InvalidInput, NotFound, UserErrorItem
from app.domain.export_plan import Built, ExportPlan, ProductExport, ValueTable
from app.domain.mappings import (
    MappingDraft,
    MappingRule,
    check_mappings,
    stored_rules,
)
from app.domain.reconcile import held_by_conflict
from app.domain.storable import echoed
from app.repositories.conflicts import ConflictRepository
from app.repositories.connectors import ConnectorRepository, MappingRepository
from app.repositories.listings import ListingRepository
from app.repositories.products import ProductRepository
from app.services.catalog_setup import CatalogSetupService
from app.services.connectors import ConnectorService, channel_locales_of, draft_of, settings_of

log = structlog.get_logger(__name__)

MAX_MAPPINGS = 500


@dataclass(frozen=True, slots=True)
class Preview:
    """One channel locale of one product, as an export would send it."""

    sku: str
    pim_locale: str
    channel_locale: str
    fields: dict[str, object]
    sources: dict[str, str]
    will_send: bool
    problems: list[UserErrorItem]
    held: list[HeldField]


@dataclass(frozen=True, slots=True)
class HeldField:
    """A field of the preview's locale that a pending conflict holds: a sync leaves it as the channel has it."""

    field: str
    conflict_id: int


@dataclass(frozen=True, slots=True)
class Holds:
    """The slots the product's pending conflict on the connector holds, and that conflict's id."""

    conflict_id: int
    slots: set[tuple[str, str | None]]


def rules_of(connector: Connector, rows: Sequence[FieldMapping], catalog: CatalogSpec) -> list[MappingRule]:
    """A connector's saved mappings as the pipeline runs them; broken ones are kept and marked."""
    return [rule for rule in _stored(connector, rows, catalog) if rule is not None]


def broken_reasons(connector: Connector, rows: Sequence[FieldMapping], catalog: CatalogSpec) -> list[str | None]:
    """Why each of a connector's saved mappings (all of them, in order: some reasons lie in the set, a value two
    mappings take) sends nothing (CHN-061), None for a sound one: an attribute it maps or its template names was
    deleted, or it no longer checks out (a measure saved without the unit its field takes). Read from the rules the
    export plan runs (`rules_of`), so what is shown is what exports skip."""
    return [
        f"{ErrorCode.MAPPING_BROKEN}: {rule.broken}" if rule is not None and rule.broken else None
        for rule in _stored(connector, rows, catalog)
    ]


def _stored(connector: Connector, rows: Sequence[FieldMapping], catalog: CatalogSpec) -> list[MappingRule | None]:
    return stored_rules(
        [(draft_of(row), row.attribute_id is not None) for row in rows],
        catalog=catalog,
        channel=channel_type_spec(ChannelType(connector.channel_type)),
        settings=settings_of(connector),
    )


class MappingService:
    def __init__(self, container: Container, tenant_id: int) -> None:
        self.container = container
        self.db = container.db
        self.tenant_id = tenant_id
        self.connectors = ConnectorService(container, tenant_id)

    async def save(self, connector_code: str, drafts: Sequence[MappingDraft]) -> list[FieldMapping]:
        """Replace the connector's whole mapping set, or change nothing and say why."""
        if len(drafts) > MAX_MAPPINGS:
            raise InvalidInput(
                [
                    UserErrorItem(
                        ("mappings",), f"at most {MAX_MAPPINGS} mappings per connector", ErrorCode.BATCH_TOO_LARGE
                    )
                ]
            )
        async with self.db.transaction() as session:
            connector = await ConnectorRepository(session).by_code(self.tenant_id, connector_code, for_update=True)
            if connector is None:
                raise InvalidInput(
                    [
                        UserErrorItem(
                            ("connectorCode",),
                            connector_not_found(connector_code),
                            ErrorCode.CONNECTOR_NOT_FOUND,
                        )
                    ]
                )
            catalog = await CatalogSetupService(session).spec(self.tenant_id)
            spec = channel_type_spec(ChannelType(connector.channel_type))
            rules, errors = check_mappings(
                drafts,
                catalog=catalog,
                channel=spec,
                settings=settings_of(connector),
                channel_locales=channel_locales_of(connector, spec),
            )
            if errors:
                raise InvalidInput(errors)
            rows = [
                self._row(connector, position, draft, rule)
                for position, (draft, rule) in enumerate(zip(drafts, rules, strict=True))
            ]
            await MappingRepository(session).replace(self.tenant_id, connector.id, rows)
            connector.mappings_version += 1
        log.info("mappings.saved", connector=connector_code, count=len(rows))
        return rows

    async def stored(self, connector_code: str) -> tuple[Connector, list[FieldMapping]] | None:
        """The connector with its stored set, read afresh: what a refused save left in place (None: no such
        connector). Not through the request's loaders, which may hold the set as it was before an earlier save of
        the same document."""
        async with self.db.reader() as session:
            connector = await ConnectorRepository(session).by_code(self.tenant_id, connector_code)
            if connector is None:
                return None
            return connector, await MappingRepository(session).of_connectors(self.tenant_id, [connector.id])

    def _row(self, connector: Connector, position: int, draft: MappingDraft, rule: MappingRule) -> FieldMapping:
        assert rule.attribute is not None
        return FieldMapping(
            tenant_id=self.tenant_id,
            connector_id=connector.id,
            attribute_id=rule.attribute.id,
            attribute_code=draft.attribute_code,
            channel_field=draft.channel_field,
            direction=draft.direction.value,
            transformation=draft.transformation,
            locale_mapping=None if rule.locale_mapping is None else [pair.as_json() for pair in rule.locale_mapping],
            when_empty=draft.when_empty.value,
            position=position,
        )

    async def plan(self, connector: Connector, locales: Sequence[str] | None = None) -> tuple[ExportPlan, CatalogSpec]:
        async with self.db.reader() as session:
            catalog = await CatalogSetupService(session).spec(self.tenant_id)
            rows = await MappingRepository(session).of_connectors(self.tenant_id, [connector.id])
        plan = ExportPlan(
            rules=rules_of(connector, rows, catalog),
            settings=settings_of(connector),
            catalog=catalog,
            channel=channel_type_spec(ChannelType(connector.channel_type)),
            locales=locales,
        )
        return plan, catalog

    async def preview(self, connector_code: str, sku: str, locales: Sequence[str] | None) -> list[Preview]:
        """What each channel locale of one product would receive, sending nothing."""
        connector = await self.connectors.get(connector_code)
        plan, _ = await self.plan(connector, self._chosen_locales(connector, locales))
        async with self.db.reader() as session:
            repository = ProductRepository(session)
            product = await repository.live_by_sku(self.tenant_id, sku)
            if product is None:
                raise NotFound(f"product '{echoed(sku)}' does not exist")
            rows = await repository.values_of(self.tenant_id, [product.id])
            values: ValueTable = {(row.attribute_id, row.locale, row.scope): row.data for row in rows}
            built = plan.build(sku, values)
            holds = await _holds(session, connector, product.id, plan, built)
        refused = _channel_refusals(connector, built)
        whole = refused.get(None, [])
        return [
            _preview(sku, built.shared, item, holds, whole, refused.get(item.channel_locale, []))
            for item in built.locales
        ]

    def _chosen_locales(self, connector: Connector, codes: Sequence[str] | None) -> list[str] | None:
        """The PIM locales to preview; one the connector does not map is refused, as triggerSync refuses it, not
        shown as an empty preview that reads as "nothing would be sent"."""
        if not codes:
            return None
        pairs = settings_of(connector).locale_mapping
        checked, errors = check_chosen_locales(codes, pairs, ("locales",), connector_code=connector.code)
        if errors:
            raise InvalidInput(errors)
        return checked


async def _holds(
    session: AsyncSession, connector: Connector, product_id: int, plan: ExportPlan, built: ProductExport
) -> Holds | None:
    """What the product's pending conflict holds, decided as the sync decides it (`held_by_conflict`), from the
    channel values the conflict recorded: the preview reads no channel."""
    conflict = (await ConflictRepository(session).pending_by_product(connector.id, [product_id])).get(product_id)
    if conflict is None:
        return None
    listing = (await ListingRepository(session).for_products(connector.id, [product_id])).get(product_id)
    slots = held_by_conflict(
        plan.slots,
        conflict.fields or [],
        pim=built.sendable(),
        sent=listing.sent if listing else {},
        base=listing.base if listing else {},
        strategy=ConflictStrategy(connector.conflict_strategy),
        pim_newer=pim_is_newer(conflict.pim_modified_at, conflict.channel_modified_at),
    )
    return Holds(conflict.id, slots)


def _channel_refusals(connector: Connector, built: ProductExport) -> dict[str | None, list[UserErrorItem]]:
    """Per channel locale (None: the product's own fields, shown in every locale), what the channel will refuse of
    what the sync sends, as the sync will report it: a Shopify price sent cleared, or a Shopify translation with no
    primary-locale text to translate. The primary locale is the one the connection test stored: the preview asks
    the store nothing, so before a successful test it is not known, and nothing is judged from it."""
    check = refusal_check(ChannelType(connector.channel_type))
    if check is None:
        return {}
    sendable = built.sendable()
    found: dict[str | None, list[UserErrorItem]] = {}
    for locale, problem in check(sendable["fields"], sendable["locales"], connector.primary_locale or None):
        found.setdefault(locale, []).append(problem)
    return found


def _preview(
    sku: str,
    shared: Built,
    built: Built,
    holds: Holds | None,
    refused_whole: Sequence[UserErrorItem] = (),
    refused: Sequence[UserErrorItem] = (),
) -> Preview:
    """One locale as the sync takes it: not sent when held, when a problem of its own keeps it back, or when one of
    the product's fields (or the channel's refusal of them) fails the whole product; the sync still sends the
    other locales of a product one locale of which fails."""
    fields = {**shared.fields, **built.fields}
    sources = {**shared.sources, **built.sources}
    held = [] if holds is None else _held(shared, built, holds)
    for item in held:
        fields.pop(item.field, None)
        sources.pop(item.field, None)
    return Preview(
        sku=sku,
        pim_locale=built.pim_locale or "",
        channel_locale=built.channel_locale or "",
        fields=fields,
        sources=sources,
        will_send=built.will_send
        and not (shared.blocked or built.blocked or refused_whole)
        and (bool(fields) or not held),
        problems=[*shared.problems, *built.problems, *refused_whole, *refused],
        held=held,
    )


def _held(shared: Built, built: Built, holds: Holds) -> list[HeldField]:
    """The fields of this locale's preview (its own and the shared ones) that the conflict holds."""
    named = [(name, None) for name in shared.fields] + [(name, built.channel_locale) for name in built.fields]
    return [HeldField(name, holds.conflict_id) for name, locale in named if (name, locale) in holds.slots]
