"""Field mappings: PIM attribute -> channel field, checked in full before anything is saved (pure).

A mapping set is validated as a whole (saveMappings replaces it atomically),
so every problem is reported at once with its path, and a set with any
problem changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from app.domain.catalog import AttributeSpec, AttributeType, CatalogSpec
from app.domain.channels import COMPATIBLE_TYPES, ChannelField, ChannelTypeSpec, FieldType
from app.domain.connectors import ConnectorSettings, LocalePair, check_locale_pairs
from app.domain.errors import ErrorCode, UserErrorItem
from app.domain.storable import echoed
from app.domain.transformations import (
    IDENTITY,
    TRUE_FALSE,
    CompiledTransformation,
    InvalidTransformation,
    compile_transformation,
    step_objects,
    template_attributes,
)


class MappingDirection(StrEnum):
    EXPORT = "EXPORT"
    IMPORT = "IMPORT"
    BOTH = "BOTH"


class EmptyValuePolicy(StrEnum):
    """What an export sends for an empty PIM value: an explicit clear, nothing, or the default."""

    CLEAR = "CLEAR"
    SKIP = "SKIP"
    DEFAULT = "DEFAULT"


FREE_TEXT_FIELD_TYPES = frozenset({FieldType.STRING, FieldType.HTML})
"""Fields any text may go to, whatever the attribute it was made from (a choice or list field may not)."""


@dataclass(frozen=True, slots=True)
class MappingDraft:
    """A mapping as the user gave it (GraphQL input or a stored row)."""

    attribute_code: str
    channel_field: str
    direction: MappingDirection
    transformation: Any = None
    locale_mapping: tuple[LocalePair, ...] | None = None
    when_empty: EmptyValuePolicy = EmptyValuePolicy.CLEAR


@dataclass(frozen=True, slots=True)
class MappingRule:
    """A checked mapping, ready for the export pipeline.

    `broken` holds the reason (CHN-061) when an attribute it reads (the one
    it maps, or one its template names) was deleted after the mapping was
    saved; exports skip it and say so.
    """

    attribute_code: str
    attribute: AttributeSpec | None
    field: ChannelField
    direction: MappingDirection
    transformation: CompiledTransformation
    locale_mapping: tuple[LocalePair, ...] | None
    when_empty: EmptyValuePolicy
    broken: str | None = None

    @property
    def exports(self) -> bool:
        return self.direction is not MappingDirection.IMPORT and self.broken is None


def check_mappings(
    drafts: Sequence[MappingDraft],
    *,
    catalog: CatalogSpec,
    channel: ChannelTypeSpec,
    settings: ConnectorSettings,
    channel_locales: Sequence[str] | None,
) -> tuple[list[MappingRule], list[UserErrorItem]]:
    """Every rule a mapping set must satisfy; the rules are returned only when there is no error."""
    errors: list[UserErrorItem] = []
    rules: list[MappingRule] = []
    for index, draft in enumerate(drafts):
        rule, problems = _check_one(draft, catalog, channel, settings, channel_locales)
        errors += [problem.under("mappings", index) for problem in problems]
        if rule is not None:
            rules.append(rule)
            if not problems:
                errors += [problem.under("mappings", index) for problem in _imports_into(rule, settings, catalog)]
    errors += _duplicate_fields(drafts)
    errors += _imported_twice(drafts, rules, settings, catalog)
    errors += _unit_given_twice(drafts, rules)
    if drafts:
        errors += _missing_required(drafts, channel)
    return (rules if not errors else []), errors


def _check_one(
    draft: MappingDraft,
    catalog: CatalogSpec,
    channel: ChannelTypeSpec,
    settings: ConnectorSettings,
    channel_locales: Sequence[str] | None,
) -> tuple[MappingRule | None, list[UserErrorItem]]:
    errors: list[UserErrorItem] = []
    attribute = catalog.attributes.get(draft.attribute_code)
    if attribute is None:
        errors.append(
            UserErrorItem(
                ("attributeCode",),
                f"attribute '{echoed(draft.attribute_code)}' does not exist",
                ErrorCode.MAPPING_INVALID,
            )
        )
    field = channel.get_field(draft.channel_field)
    if field is None:
        errors.append(
            UserErrorItem(
                ("channelField",),
                f"{channel.display_name} has no field '{echoed(draft.channel_field)}'",
                ErrorCode.MAPPING_INVALID,
            )
        )
    if attribute is None or field is None:
        return None, errors
    before = len(errors)
    compiled = _compile(draft, attribute, field, catalog, settings, errors)
    compiled_as_given = len(errors) == before
    errors += _check_types(attribute, field, compiled)
    if compiled_as_given:
        errors += _check_unit(draft, attribute, field, compiled)
    pairs = _check_locales(draft, attribute, field, catalog, settings, channel_locales, errors)
    errors += _check_reading(draft, attribute, compiled, catalog, settings)
    errors += _check_importable(draft, compiled)
    rule = MappingRule(draft.attribute_code, attribute, field, draft.direction, compiled, pairs, draft.when_empty)
    return rule, errors


def _compile(
    draft: MappingDraft,
    attribute: AttributeSpec,
    field: ChannelField,
    catalog: CatalogSpec,
    settings: ConnectorSettings,
    errors: list[UserErrorItem],
) -> CompiledTransformation:
    rich_text = (
        [code for code, spec in catalog.attributes.items() if spec.type is AttributeType.TEXTAREA]
        if field.type is FieldType.HTML
        else ()
    )
    try:
        return compile_transformation(
            draft.transformation,
            attribute_type=attribute.type,
            field=field,
            known_attributes=catalog.attributes,
            tax_defaults=settings.tax_config,
            markup_attributes=rich_text,
            currency=settings.currency or catalog.default_currency,
        )
    except InvalidTransformation as exc:
        errors += exc.errors
        return IDENTITY


def _check_importable(draft: MappingDraft, compiled: CompiledTransformation) -> list[UserErrorItem]:
    """A value taken from the channel is written to the PIM as it is: steps cannot be run backwards.

    (A template, stripHtml or maxLength loses what it dropped; the PIM would
    get the channel's rendering instead of its own data.) A unit conversion
    alone is the exception: it is exact, and the channel's amount comes back
    in the unit it names (see reconcile.imported_data).
    """
    only_a_unit = len(compiled.steps) == 1 and compiled.unit is not None
    if draft.direction is MappingDirection.EXPORT or not compiled.steps or only_a_unit:
        return []
    if compiled.taxed_by_connector:
        return [
            UserErrorItem(
                ("direction",),
                f"the connector's taxConfig adds tax to the prices it sends, and a {draft.direction} mapping would "
                f"take the channel's taxed price into {draft.attribute_code} as it is: map it EXPORT, or give it "
                '{"applyTax": false} to send and take the price untaxed',
                ErrorCode.MAPPING_INVALID,
            )
        ]
    return [
        UserErrorItem(
            ("transformation",),
            f"{draft.direction} mappings take the channel's value into the PIM as it is, so they cannot have "
            "transformation steps other than convertUnit; map it EXPORT, or drop the steps",
            ErrorCode.MAPPING_INVALID,
        )
    ]


def _check_types(
    attribute: AttributeSpec, field: ChannelField, compiled: CompiledTransformation
) -> list[UserErrorItem]:
    if compiled.produces_text and field.type in FREE_TEXT_FIELD_TYPES:
        return []
    if attribute.type is AttributeType.BOOLEAN and field.type is FieldType.ENUM and field.choices:
        return [] if compiled.produces_text else _true_false_choices(field)
    if attribute.type in COMPATIBLE_TYPES[field.type]:
        return []
    return [
        UserErrorItem(
            ("channelField",),
            f"a {attribute.type} attribute cannot feed {field.name}, a {field.type} field",
            ErrorCode.FIELD_TYPE_MISMATCH,
        )
    ]


def _check_unit(
    draft: MappingDraft, attribute: AttributeSpec, field: ChannelField, compiled: CompiledTransformation
) -> list[UserErrorItem]:
    """A measure exported to a decimal field needs the field's unit: no channel spec fixes one (CUSTOM_HTTP and
    WooCommerce say nothing, the others have a separate unit field), and each value has its own unit."""
    exporting = draft.direction is not MappingDirection.IMPORT
    if not exporting or attribute.type is not AttributeType.METRIC or field.type is not FieldType.DECIMAL:
        return []
    if compiled.produces_text:
        return []
    if compiled.unit is None:
        return [
            UserErrorItem(
                ("transformation",),
                f"{attribute.code} is a measure, each value in its own unit, and {field.name} takes a bare number: "
                'say which unit it takes, e.g. {"convertUnit": "KILOGRAM"}, and values are converted to it',
                ErrorCode.FIELD_TYPE_MISMATCH,
            )
        ]
    units = dict(field.units)
    if field.unit_field is None or compiled.unit in units:
        return []
    return [
        UserErrorItem(
            ("transformation", "convertUnit"),
            f"{field.name} goes with {field.unit_field}, which takes {', '.join(units.values())}: "
            f"convert to {', '.join(units)}",
            ErrorCode.FIELD_TYPE_MISMATCH,
        )
    ]


def _true_false_choices(field: ChannelField) -> list[UserErrorItem]:
    """A true/false attribute goes to a choice field through a valueMap, unless the field offers true and false:
    as they are, every product would be refused at export."""
    if set(TRUE_FALSE) <= set(field.choices):
        return []
    return [
        UserErrorItem(
            ("transformation",),
            f"{field.name} takes one of {', '.join(field.choices)}, not true or false: map each to one of them "
            'with a valueMap, {"valueMap": {"true": "...", "false": "..."}}',
            ErrorCode.FIELD_TYPE_MISMATCH,
        )
    ]


def _check_locales(
    draft: MappingDraft,
    attribute: AttributeSpec,
    field: ChannelField,
    catalog: CatalogSpec,
    settings: ConnectorSettings,
    channel_locales: Sequence[str] | None,
    errors: list[UserErrorItem],
) -> tuple[LocalePair, ...] | None:
    if draft.locale_mapping is None:
        if attribute.localizable and not field.localizable:
            errors.append(
                UserErrorItem(
                    ("localeMapping",),
                    f"{attribute.code} is localizable but {field.name} is not: name the one PIM locale it takes",
                    ErrorCode.MAPPING_INVALID,
                )
            )
        elif field.localizable and not settings.locale_mapping:
            errors.append(
                UserErrorItem(
                    ("channelField",),
                    f"{field.name} is written per channel locale and the connector maps none: "
                    "set the connector's settings.localeMapping first",
                    ErrorCode.MAPPING_INVALID,
                )
            )
        return None
    if field.localizable and not draft.locale_mapping:
        errors.append(
            UserErrorItem(
                ("localeMapping",),
                f"an empty localeMapping sends {field.name} to no channel locale: name at least one pair, "
                "or leave it out to follow the connector's",
                ErrorCode.MAPPING_INVALID,
            )
        )
        return ()
    pairs, problems = check_locale_pairs(
        draft.locale_mapping, ("localeMapping",), catalog=catalog, channel_locales=channel_locales
    )
    errors += problems
    if field.localizable:
        mapped = {pair.channel_locale for pair in settings.locale_mapping}
        errors += [
            UserErrorItem(
                ("localeMapping", index, "channelLocale"),
                f"{pair.channel_locale} is not in the connector's locale mapping",
                ErrorCode.MAPPING_INVALID,
            )
            for index, pair in enumerate(pairs)
            if pair.channel_locale not in mapped
        ]
        if not problems:  # a pair refused above is reported once, not again as a locale left out
            errors += _required_everywhere(draft, field, pairs, settings)
    if attribute.localizable and not field.localizable and len(draft.locale_mapping) != 1:
        errors.append(
            UserErrorItem(
                ("localeMapping",),
                f"{field.name} takes one value for every locale: map exactly one PIM locale",
                ErrorCode.MAPPING_INVALID,
            )
        )
    return pairs


def _required_everywhere(
    draft: MappingDraft, field: ChannelField, pairs: Sequence[LocalePair], settings: ConnectorSettings
) -> list[UserErrorItem]:
    """A required field's own locale mapping must reach every channel locale the connector writes: one field has
    one exporting mapping, so a locale it leaves out would go to the channel without the field in every product."""
    if not field.required or draft.direction is MappingDirection.IMPORT:
        return []
    fed = {pair.channel_locale for pair in pairs}
    left_out = [pair.channel_locale for pair in settings.locale_mapping if pair.channel_locale not in fed]
    if not left_out:
        return []
    return [
        UserErrorItem(
            ("localeMapping",),
            f"{field.name} is required in every channel locale and this localeMapping leaves out "
            f"{', '.join(left_out)}: map a PIM locale to each, or leave localeMapping out",
            ErrorCode.MISSING_REQUIRED_FIELD,
        )
    ]


def _check_reading(
    draft: MappingDraft,
    attribute: AttributeSpec,
    compiled: CompiledTransformation,
    catalog: CatalogSpec,
    settings: ConnectorSettings,
) -> list[UserErrorItem]:
    """What the connector must provide for this attribute to be read: a scope, a currency, a default (one the
    transformation gives and that was refused is said there, not again as missing)."""
    errors: list[UserErrorItem] = []
    scopable = [attribute.code] if attribute.scopable else []
    scopable += [code for code in sorted(compiled.uses_attributes) if _scopable(catalog, code)]
    if scopable and settings.scope is None:
        errors.append(
            UserErrorItem(
                ("attributeCode",),
                f"{', '.join(scopable)} varies by scope: set the connector's settings.scope first",
                ErrorCode.MAPPING_INVALID,
            )
        )
    if (settings.currency or catalog.default_currency) is None:
        if attribute.type is AttributeType.PRICE:
            errors.append(
                UserErrorItem(
                    ("attributeCode",),
                    "prices need a currency: set the connector's settings.currency",
                    ErrorCode.CURRENCY_NOT_SUPPORTED,
                )
            )
        elif compiled.needs_currency:
            errors.append(
                UserErrorItem(
                    ("transformation",),
                    "formatCurrency writes money in the connector's currency: set the connector's settings.currency",
                    ErrorCode.CURRENCY_NOT_SUPPORTED,
                )
            )
    if draft.when_empty is EmptyValuePolicy.DEFAULT and compiled.default is None and not _gives_default(draft):
        errors.append(
            UserErrorItem(
                ("whenEmpty",), "whenEmpty DEFAULT needs a default in the transformation", ErrorCode.MAPPING_INVALID
            )
        )
    return errors


def _gives_default(draft: MappingDraft) -> bool:
    """Whether the transformation's JSON gives a default (refused or not: a refused one has its own error)."""
    return any(obj.get("default") is not None for obj in step_objects(draft.transformation))


def _scopable(catalog: CatalogSpec, code: str) -> bool:
    spec = catalog.attributes.get(code)
    return spec is not None and spec.scopable


def _written(
    rule: MappingRule, settings: ConnectorSettings, catalog: CatalogSpec
) -> list[tuple[str | None, str | None]]:
    """(channel locale, or None for a field with one value; the PIM locale, or None for a non-localizable
    attribute) of each value an importing rule takes from the channel: the slots the export plan builds for it."""
    assert rule.attribute is not None
    pairs: list[tuple[str | None, str | None]]
    if not rule.field.localizable:
        pair = rule.locale_mapping[0] if rule.locale_mapping else None
        pairs = [(None, pair.pim_locale if pair else catalog.default_locale)]
    else:
        mapped = {pair.channel_locale for pair in settings.locale_mapping}
        own = settings.locale_mapping if rule.locale_mapping is None else rule.locale_mapping
        pairs = [(pair.channel_locale, pair.pim_locale) for pair in own if pair.channel_locale in mapped]
    localizable = rule.attribute.localizable
    return [(channel, pim if localizable else None) for channel, pim in pairs]


def _imports_into(rule: MappingRule, settings: ConnectorSettings, catalog: CatalogSpec) -> list[UserErrorItem]:
    """An import takes each channel locale's value into its own PIM value: a field written per channel locale
    cannot come into an attribute with one value for every locale, where each locale's would be taken at once
    (and the product refused, the same value given twice)."""
    if rule.direction is MappingDirection.EXPORT or rule.attribute is None or rule.attribute.localizable:
        return []
    locales = [channel for channel, _ in _written(rule, settings, catalog) if channel is not None]
    if len(locales) < 2:
        return []
    return [
        UserErrorItem(
            ("direction",),
            f"{rule.attribute.code} has one value for every locale and {rule.field.name} is written per channel "
            f"locale ({', '.join(locales)}): a {rule.direction} mapping would take each of them into that one value; "
            "map it EXPORT, or map a localizable attribute",
            ErrorCode.MAPPING_INVALID,
        )
    ]


def _imported_twice(
    drafts: Sequence[MappingDraft], rules: Sequence[MappingRule], settings: ConnectorSettings, catalog: CatalogSpec
) -> list[UserErrorItem]:
    """One PIM value is taken from one channel field: two importing mappings into it would each write it in the
    same sync, and the product be refused. Checked once every mapping checks out on its own (rules match drafts)."""
    if len(rules) != len(drafts):
        return []
    return [
        UserErrorItem(("mappings", index, "attributeCode"), message, ErrorCode.MAPPING_INVALID)
        for index, message in _taken_twice(list(enumerate(rules)), settings, catalog)
    ]


def _taken_twice(
    rules: Sequence[tuple[int, MappingRule]], settings: ConnectorSettings, catalog: CatalogSpec
) -> list[tuple[int, str]]:
    """(position, why) of each importing mapping into a PIM value an earlier one takes from the channel already."""
    found = []
    taken: dict[tuple[str, str | None], tuple[int, MappingRule]] = {}
    for index, rule in rules:
        if rule.direction is MappingDirection.EXPORT or rule.attribute is None:
            continue
        for _, pim_locale in dict.fromkeys(_written(rule, settings, catalog)):
            first, by = taken.setdefault((rule.attribute.code, pim_locale), (index, rule))
            if first != index:
                where = f" in {pim_locale}" if pim_locale else ""
                found.append(
                    (
                        index,
                        f"{rule.attribute.code}{where} is already taken from the channel by mappings[{first}] "
                        f"({by.field.name}): one value cannot be taken from two channel fields",
                    )
                )
                break
    return found


def _unit_given_twice(drafts: Sequence[MappingDraft], rules: Sequence[MappingRule]) -> list[UserErrorItem]:
    """A measure converted by its mapping sends its unit field itself (ExportPlan.unit_codes): a mapping feeding
    that field as well would send a unit the amount is not in."""
    if len(rules) != len(drafts):
        return []
    sent_with = {
        rule.field.unit_field: rule
        for rule in rules
        if rule.exports and rule.field.unit_field and rule.transformation.unit in dict(rule.field.units)
    }
    return [
        UserErrorItem(
            ("mappings", index, "channelField"),
            f"{rule.field.name} is sent with {measure.field.name}, in the unit its convertUnit converts it to "
            f"({dict(measure.field.units)[measure.transformation.unit or '']}): leave {rule.field.name} unmapped",
            ErrorCode.MAPPING_INVALID,
        )
        for index, rule in enumerate(rules)
        if rule.exports and (measure := sent_with.get(rule.field.name)) is not None
    ]


def _duplicate_fields(drafts: Sequence[MappingDraft]) -> list[UserErrorItem]:
    """One exporting mapping per channel field: two would race for the same value."""
    errors = []
    seen: set[str] = set()
    for index, draft in enumerate(drafts):
        if draft.direction is MappingDirection.IMPORT:
            continue
        if draft.channel_field in seen:
            errors.append(
                UserErrorItem(
                    ("mappings", index, "channelField"),
                    f"{draft.channel_field} is already fed by another mapping",
                    ErrorCode.MAPPING_INVALID,
                )
            )
        seen.add(draft.channel_field)
    return errors


def _missing_required(drafts: Sequence[MappingDraft], channel: ChannelTypeSpec) -> list[UserErrorItem]:
    exported = {draft.channel_field for draft in drafts if draft.direction is not MappingDirection.IMPORT}
    return [
        UserErrorItem(
            ("mappings",),
            f"{channel.display_name} requires {field.name}: map an attribute to it",
            ErrorCode.MISSING_REQUIRED_FIELD,
        )
        for field in channel.fields
        if field.required and field.name not in exported
    ]


def deleted_attributes(draft: MappingDraft, *, attribute_present: bool, known: Collection[str]) -> list[str]:
    """The attributes a saved mapping reads that are gone: the one it maps (`attribute_present` False once it was
    deleted, even if one of the same code was made since), then those its templates name, in code order."""
    gone = [] if attribute_present and draft.attribute_code in known else [draft.attribute_code]
    gone += sorted(code for code in template_attributes(draft.transformation) if code not in known)
    return list(dict.fromkeys(gone))


def deleted_reason(draft: MappingDraft, gone: Sequence[str]) -> str:
    """Why a mapping is broken (CHN-061), naming each deleted attribute and how the mapping read it."""
    said = [f"attribute '{draft.attribute_code}' was deleted"] if draft.attribute_code in gone else []
    read = [code for code in gone if code != draft.attribute_code]
    if read:
        names = ", ".join(f"'{code}'" for code in read)
        plural = len(read) > 1
        said.append(
            f"{'attributes' if plural else 'attribute'} {names}, which its transformation reads, "
            f"{'were' if plural else 'was'} deleted"
        )
    return f"{' and '.join(said)}; this mapping sends nothing until it is fixed"


def stored_rule(
    draft: MappingDraft,
    *,
    attribute_present: bool,
    catalog: CatalogSpec,
    channel: ChannelTypeSpec,
    settings: ConnectorSettings,
) -> MappingRule | None:
    """Rebuild a saved mapping for an export; a mapping that no longer checks out is kept, marked broken.

    Returns None only when the channel type no longer has the field at all.
    """
    field = channel.get_field(draft.channel_field)
    if field is None:
        return None
    gone = deleted_attributes(draft, attribute_present=attribute_present, known=catalog.attributes)
    attribute = None if draft.attribute_code in gone else catalog.attributes.get(draft.attribute_code)
    if attribute is None or gone:
        reason = deleted_reason(draft, gone)
        return MappingRule(
            draft.attribute_code,
            attribute,
            field,
            draft.direction,
            IDENTITY,
            draft.locale_mapping,
            draft.when_empty,
            reason,
        )
    errors: list[UserErrorItem] = []
    compiled = _compile(draft, attribute, field, catalog, settings, errors)
    if not errors:
        # Saved before convertUnit was required: broken (the field is left out and said so), not a failure of
        # every product that has a measure.
        errors += _check_unit(draft, attribute, field, compiled)
        # A price taken back from the channel, saved before the connector's taxConfig taxed what it sends: the
        # channel's taxed price would come into the PIM as it is.
        errors += _check_importable(draft, compiled)
    broken = errors[0].message if errors else None
    return MappingRule(
        draft.attribute_code,
        attribute,
        field,
        draft.direction,
        compiled,
        draft.locale_mapping,
        draft.when_empty,
        broken,
    )


def stored_rules(
    stored: Sequence[tuple[MappingDraft, bool]],
    *,
    catalog: CatalogSpec,
    channel: ChannelTypeSpec,
    settings: ConnectorSettings,
) -> list[MappingRule | None]:
    """A saved mapping set rebuilt for an export, each (draft, whether its attribute is still there) in order, as
    stored_rule rebuilds it; then what the set as a whole no longer passes, saved before saveMappings refused it:
    a mapping that would take two channel values into one PIM value (each locale's into a value kept once for every
    locale, or into a value an earlier mapping takes) is broken with the reason the save gives, instead of failing
    every product it imports ("this attribute, locale and scope is given twice")."""
    rules = [
        stored_rule(draft, attribute_present=present, catalog=catalog, channel=channel, settings=settings)
        for draft, present in stored
    ]
    for index, rule in enumerate(rules):
        if rule is not None and rule.broken is None:
            problems = _imports_into(rule, settings, catalog)
            if problems:
                rules[index] = replace(rule, broken=problems[0].message)
    sound = [(index, rule) for index, rule in enumerate(rules) if rule is not None and rule.broken is None]
    for index, reason in _taken_twice(sound, settings, catalog):
        rule = rules[index]
        assert rule is not None
        rules[index] = replace(rule, broken=reason)
    return rules


def as_draft(raw: Mapping[str, Any]) -> MappingDraft:
    """A mapping from its stored JSON-ish form (the row's columns)."""
    pairs = raw.get("locale_mapping")
    return MappingDraft(
        attribute_code=raw["attribute_code"],
        channel_field=raw["channel_field"],
        direction=MappingDirection(raw["direction"]),
        transformation=raw.get("transformation"),
        locale_mapping=None if pairs is None else tuple(LocalePair.from_json(pair) for pair in pairs),
        when_empty=EmptyValuePolicy(raw.get("when_empty", EmptyValuePolicy.CLEAR)),
    )
