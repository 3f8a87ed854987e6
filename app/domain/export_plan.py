"""The mapping pipeline: from a product's PIM values to what each channel locale receives (pure).

An ExportPlan is compiled once per connector (mappings, settings, catalog)
and then builds documents for any number of products, so everything that
does not depend on the product (which PIM locale feeds which channel locale,
the fallback chain of each, how a value is reduced and serialised) is worked
out up front; building a document is then a few dictionary lookups and
function calls per field.

Every value that goes out knows its source: "authored" (the PIM locale had
it), "fallback:<pim locale>" (reached along the locale chain), "default" (the
transformation's default) or "empty" (sent as an explicit clear).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.channels.base import ChannelDocument
from app.db.models import NO_LOCALE, NO_SCOPE
from app.domain.catalog import AttributeSpec, CatalogSpec
from app.domain.channels import ChannelTypeSpec
from app.domain.conflicts import Slot
from app.domain.connectors import ConnectorSettings, FallbackPolicy, LocalePair
from app.domain.errors import ErrorCode, UserErrorItem
from app.domain.field_values import NoPrice, WrongType, reducer, serializer, too_long
from app.domain.locales import locale_chain
from app.domain.mappings import EmptyValuePolicy, MappingDirection, MappingRule
from app.domain.transformations import HTML_FORM_OF, IDENTITY, TransformationError, TransformContext

ValueTable = Mapping[tuple[int, str, str], Any]
"""A product's values keyed by (attribute id, locale or '', scope or '')."""

AUTHORED = "authored"
DEFAULT = "default"
EMPTY = "empty"

Candidates = tuple[tuple[tuple[int, str, str], str], ...]
"""Where one attribute's value is looked for, in order, with the source each place means."""


def _blocking(problems: Sequence[UserErrorItem]) -> bool:
    """A problem other than a broken mapping keeps its part back (a broken mapping only drops its field)."""
    return any(problem.code is not ErrorCode.MAPPING_BROKEN for problem in problems)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


@dataclass(frozen=True, slots=True)
class _Step:
    """One channel field of one document: where to read, how to reduce, transform and send."""

    rule: MappingRule
    attribute: AttributeSpec
    pim_locale: str | None
    channel_locale: str | None
    candidates: Candidates
    reduce: Callable[[Any], Any]
    serialize: Callable[[Any], Any]


@dataclass(slots=True)
class Built:
    """What one (product, channel locale) gets, or the shared part when `channel_locale` is None."""

    pim_locale: str | None
    channel_locale: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    problems: list[UserErrorItem] = field(default_factory=list)
    will_send: bool = True

    @property
    def blocked(self) -> bool:
        """Kept back by a problem of its own: the sync sends nothing of this locale, or (the shared part) nothing
        of the product (domain.sync.outgoing)."""
        return _blocking(self.problems)


@dataclass(slots=True)
class ProductExport:
    """Every document of one product: the shared (non-localizable) fields and one Built per channel locale."""

    sku: str
    shared: Built
    locales: list[Built]

    def document(self, external_id: str | None) -> ChannelDocument:
        """What an adapter sends: held locales are left out, so the channel keeps what it has."""
        return ChannelDocument(
            sku=self.sku,
            external_id=external_id,
            fields=dict(self.shared.fields),
            locales={
                built.channel_locale: built.fields for built in self.locales if built.will_send and built.channel_locale
            },
        )

    def sendable(self) -> dict[str, Any]:
        """The values the PIM has to say, as a {"fields", "locales"} snapshot: held locales and parts with
        blocking problems are left out, so their slots read as MISSING (the PIM does not speak for them)."""
        locales = {
            built.channel_locale: dict(built.fields)
            for built in self.locales
            if built.will_send and built.channel_locale and not _blocking(built.problems)
        }
        fields = {} if _blocking(self.shared.problems) else dict(self.shared.fields)
        return {"fields": fields, "locales": locales}

    @property
    def problems(self) -> list[UserErrorItem]:
        return [*self.shared.problems, *(problem for built in self.locales for problem in built.problems)]


class ExportPlan:
    """A connector's mappings compiled for building documents; build() is the hot path."""

    def __init__(
        self,
        *,
        rules: Sequence[MappingRule],
        settings: ConnectorSettings,
        catalog: CatalogSpec,
        channel: ChannelTypeSpec,
        locales: Iterable[str] | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.channel = channel
        self.currency = settings.currency or catalog.default_currency
        self.scope = settings.scope or NO_SCOPE
        wanted = None if locales is None else set(locales)
        self.pairs = tuple(p for p in settings.locale_mapping if wanted is None or p.pim_locale in wanted)
        self.skipped_locales = frozenset(p.channel_locale for p in settings.locale_mapping) - {
            p.channel_locale for p in self.pairs
        }
        """Channel locales the connector maps but this plan leaves out (a sync limited to some locales): unlike an
        unmapped locale, they are still synced, by other runs."""
        self.broken = [rule for rule in rules if rule.broken]
        exporting = [rule for rule in rules if rule.exports and rule.attribute is not None]
        self._chains: dict[tuple[int, str | None], Candidates] = {}
        self._reducers: dict[int, Callable[[Any], Any]] = {}
        self.shared_steps = [self._shared_step(rule) for rule in exporting if not rule.field.localizable]
        self.locale_steps = {
            pair.channel_locale: [
                step for rule in exporting if rule.field.localizable for step in self._locale_step(rule, pair)
            ]
            for pair in self.pairs
        }
        importing = [
            rule
            for rule in rules
            if rule.direction is MappingDirection.IMPORT and rule.broken is None and rule.attribute is not None
        ]
        self.slots = self._slots(importing)
        """Every (channel field, channel locale) the connector exports or imports: what three-way checks compare."""
        self.attribute_ids = _read_attributes([*exporting, *importing], catalog)
        """Every attribute a build reads (mapped ones and those templates name) and every one an import writes into
        (a channel's price joins the PIM's other currencies, a measure keeps its unit): all a sync needs to load."""
        self.value_scopes = tuple(dict.fromkeys((NO_SCOPE, self.scope)))
        """The scopes of every value a build reads or an import writes (a scopable attribute's in the connector's
        scope, any other's in none): a sync loads no other, a third of a product's values in a catalog of two."""
        self.units = {rule.field.name: rule.transformation.unit for rule in rules if rule.transformation.unit}
        """The unit each channel field's measures are sent in (convertUnit): an import takes the amount back in it."""
        self.unit_codes = {
            rule.field.name: (rule.field.unit_field, dict(rule.field.units)[rule.transformation.unit])
            for rule in exporting
            if rule.field.unit_field and rule.transformation.unit in dict(rule.field.units)
        }
        """Per measure field whose mapping converts it (Shopify's weight), its unit field and the code sent there
        with each amount: without it the channel takes the amount in whatever unit it had."""
        self.required_localizable = tuple(f.name for f in channel.fields if f.required and f.localizable)
        self.send_fallback = settings.fallback_policy is FallbackPolicy.SEND

    # -- compile ---------------------------------------------------------------------------------

    def candidates(self, attribute: AttributeSpec, pim_locale: str | None) -> Candidates:
        """Keys to look for, in order: the locale itself, its CLDR parents, the default locale."""
        cache_key = (attribute.id, pim_locale)
        found = self._chains.get(cache_key)
        if found is not None:
            return found
        scope = self.scope if attribute.scopable else NO_SCOPE
        if not attribute.localizable:
            found = (((attribute.id, NO_LOCALE, scope), AUTHORED),)
        else:
            start = pim_locale or self.catalog.default_locale
            chain = locale_chain(start, self.catalog.default_locale) if start else ()
            found = tuple(
                ((attribute.id, code, scope), AUTHORED if index == 0 else f"fallback:{code}")
                for index, code in enumerate(chain)
            )
        self._chains[cache_key] = found
        return found

    def reducer(self, attribute: AttributeSpec) -> Callable[[Any], Any]:
        """One reducer per attribute, made once: templates look attributes up per value on the hot path."""
        found = self._reducers.get(attribute.id)
        if found is None:
            found = self._reducers[attribute.id] = reducer(attribute, self.currency)
        return found

    def _step(self, rule: MappingRule, pim_locale: str | None, channel_locale: str | None) -> _Step:
        assert rule.attribute is not None
        return _Step(
            rule=rule,
            attribute=rule.attribute,
            pim_locale=pim_locale,
            channel_locale=channel_locale,
            candidates=self.candidates(rule.attribute, pim_locale),
            reduce=self.reducer(rule.attribute),
            serialize=serializer(
                rule.field, rule.transformation.unit, rule.transformation.html_form or HTML_FORM_OF[rule.attribute.type]
            ),
        )

    def _shared_step(self, rule: MappingRule) -> _Step:
        """A non-localizable field: one value for every locale, from the one PIM locale it names."""
        pair = rule.locale_mapping[0] if rule.locale_mapping else None
        pim_locale = pair.pim_locale if pair else self.catalog.default_locale
        channel_locale = pair.channel_locale if pair else None
        return self._step(rule, pim_locale, channel_locale)

    def _locale_step(self, rule: MappingRule, pair: LocalePair) -> list[_Step]:
        """A localizable field in one channel locale; the field's own locale mapping overrides the connector's."""
        if rule.locale_mapping is None:
            return [self._step(rule, pair.pim_locale, pair.channel_locale)]
        return [
            self._step(rule, own.pim_locale, pair.channel_locale)
            for own in rule.locale_mapping
            if own.channel_locale == pair.channel_locale
        ]

    def _slots(self, importing: Sequence[MappingRule]) -> tuple[Slot, ...]:
        steps = [*self.shared_steps, *(step for steps in self.locale_steps.values() for step in steps)]
        for rule in importing:
            if rule.field.localizable:
                steps += [step for pair in self.pairs for step in self._locale_step(rule, pair)]
            else:
                steps.append(self._shared_step(rule))
        return tuple(
            Slot(
                field=step.rule.field.name,
                channel_locale=step.channel_locale if step.rule.field.localizable else None,
                pim_locale=step.pim_locale if step.attribute.localizable else None,
                attribute_code=step.attribute.code,
                direction=step.rule.direction,
                field_type=step.rule.field.type,
            )
            for step in steps
        )

    def value_key(self, slot: Slot) -> tuple[int, str, str]:
        """Where a value taken from the channel is written in the PIM: the slot's attribute, locale and scope."""
        attribute = self.catalog.attributes[slot.attribute_code]
        scope = self.scope if attribute.scopable else NO_SCOPE
        return attribute.id, slot.pim_locale or NO_LOCALE, scope

    # -- build -----------------------------------------------------------------------------------

    def build(self, sku: str, values: ValueTable) -> ProductExport:
        shared = Built(None, None)
        for step in self.shared_steps:
            self._fill(shared, step, values, sku)
        for rule in self.broken:
            shared.problems.append(
                UserErrorItem((rule.field.name,), rule.broken or "broken mapping", ErrorCode.MAPPING_BROKEN)
            )
        built_locales = []
        for pair in self.pairs:
            built = Built(pair.pim_locale, pair.channel_locale)
            for step in self.locale_steps[pair.channel_locale]:
                self._fill(built, step, values, sku)
            # A field whose value failed (a transformation, a wrong type) has its problem already: "has no value"
            # beside it would send the user looking for a translation that is there.
            failed = {problem.path[0] for problem in built.problems if problem.path}
            for name in self.required_localizable:
                if built.sources.get(name) != AUTHORED:
                    if name not in failed and (name not in built.fields or built.fields[name] is None):
                        built.problems.append(
                            UserErrorItem(
                                (name,),
                                f"{name} is required and has no value in {pair.pim_locale}",
                                ErrorCode.MISSING_REQUIRED_FIELD,
                            )
                        )
                    if self.settings.hold_incomplete_locales:
                        built.will_send = False
            built_locales.append(built)
        return ProductExport(sku, shared, built_locales)

    def _read(self, step: _Step, values: ValueTable) -> tuple[Any, str | None]:
        for key, source in step.candidates:
            data = values.get(key)
            if data is not None:
                return data, source
        return None, None

    def _fill(self, built: Built, step: _Step, values: ValueTable, sku: str) -> None:
        name = step.rule.field.name
        data, source = self._read(step, values)
        if source is not None and source != AUTHORED and not self.send_fallback:
            return
        fallbacks: list[str] = []
        try:
            value = None if data is None else step.reduce(data)
            if value is not None and step.rule.transformation is not IDENTITY:
                value = step.rule.transformation.apply(value, self._context(step, values, fallbacks))
        except NoPrice as exc:
            if step.rule.direction is MappingDirection.BOTH:
                self._empty(built, step, values, missing=str(exc))
            else:
                built.problems.append(UserErrorItem((name,), str(exc), ErrorCode.CURRENCY_NOT_SUPPORTED))
            return
        except TransformationError as exc:
            built.problems.append(UserErrorItem((name,), exc.message, exc.code))
            return
        if _is_empty(value):
            self._empty(built, step, values)
            return
        if source is None or source == AUTHORED:
            source = fallbacks[0] if fallbacks else AUTHORED
        self._put(built, step, value, source)

    def _empty(self, built: Built, step: _Step, values: ValueTable, missing: str | None = None) -> None:
        """The mapping's whenEmpty for an empty value. A price without the connector's currency (`missing` says
        which) is empty on a BOTH mapping: that is what taking in a price the merchant cleared in the shop leaves
        (imported_data drops the currency and keeps the others), so the PIM and the shop agree on no price. On an
        EXPORT mapping it stays CHN-013: the catalog priced the product, in other currencies, and clearing the
        channel's price for it would be a guess."""
        rule = step.rule
        name = rule.field.name
        if rule.when_empty is EmptyValuePolicy.DEFAULT and rule.transformation.default is not None:
            built.fields[name] = rule.transformation.default
            built.sources[name] = DEFAULT
            return
        if rule.when_empty is not EmptyValuePolicy.SKIP:
            built.fields[name] = None
            built.sources[name] = EMPTY
        if rule.field.required and built.channel_locale is None:
            built.problems.append(
                UserErrorItem(
                    (name,),
                    f"{name} is required and has no value" + (f" ({missing})" if missing else ""),
                    ErrorCode.MISSING_REQUIRED_FIELD,
                )
            )

    def _put(self, built: Built, step: _Step, value: Any, source: str) -> None:
        name = step.rule.field.name
        try:
            wire = step.serialize(value)
        except WrongType as exc:
            built.problems.append(UserErrorItem((name,), str(exc), ErrorCode.FIELD_TYPE_MISMATCH))
            return
        limit = step.rule.field.max_length
        overlong = None if limit is None else too_long(name, wire, limit)
        if overlong is not None:
            built.problems.append(UserErrorItem((name,), overlong, ErrorCode.FIELD_TYPE_MISMATCH))
        built.fields[name] = wire
        built.sources[name] = source
        unit = self.unit_codes.get(name)
        if unit is not None:
            built.fields[unit[0]] = unit[1]
            built.sources[unit[0]] = source

    def _context(self, step: _Step, values: ValueTable, fallbacks: list[str]) -> TransformContext:
        """What a template reads, under the same rule as the mapped value: under OMIT only what the document's own
        locale authored (a placeholder without it renders empty); under SEND the locale chain, each fallback used
        noted in `fallbacks` so the field's source says where its text came from."""
        pim_locale = step.pim_locale or self.catalog.default_locale or ""

        def lookup(code: str) -> Any:
            attribute = self.catalog.attributes.get(code)
            if attribute is None:
                return None
            for key, source in self.candidates(attribute, step.pim_locale):
                if source != AUTHORED and not self.send_fallback:
                    return None
                data = values.get(key)
                if data is not None:
                    try:
                        found = self.reducer(attribute)(data)
                    except NoPrice:
                        return None
                    if source != AUTHORED:
                        fallbacks.append(source)
                    return found
            return None

        return TransformContext(
            pim_locale=pim_locale,
            channel_locale=step.channel_locale or "",
            currency=self.currency,
            lookup=lookup,
        )


def value_table(rows: Iterable[tuple[int, str, str, Any]]) -> dict[tuple[int, str, str], Any]:
    """(attribute id, locale, scope, data) rows as the table build() reads."""
    return {(attribute_id, locale, scope): data for attribute_id, locale, scope, data in rows}


def _read_attributes(rules: Sequence[MappingRule], catalog: CatalogSpec) -> frozenset[int]:
    ids = {rule.attribute.id for rule in rules if rule.attribute is not None}
    for rule in rules:
        ids.update(
            catalog.attributes[code].id for code in rule.transformation.uses_attributes if code in catalog.attributes
        )
    return frozenset(ids)
