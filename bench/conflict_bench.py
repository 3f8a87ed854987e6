"""Benchmark conflict detection: (field, locale) slots checked three ways per second for a 100,000-product connector.

Run from the repository root:

    .venv/bin/python bench/conflict_bench.py [--products 100000] [--repeat 3] [--strategy MANUAL] [--seed N]
    .venv/bin/python bench/conflict_bench.py --products 2000     # a quick smoke run (a few seconds)

The connector. A CUSTOM_HTTP connector (the channel's real field spec) on the
generated catalog of bench/catalog_data.py (the import and sync benchmarks'
data: 3 locales, 20 attributes, real-looking en/fr/ar texts), compiled into a
real ExportPlan by check_mappings: title <- name (BOTH: a merchant's fix is
taken into the PIM), description <- description (HTML, scope ecommerce),
price <- price (EUR), barcode <- ean, vendor <- brand, weight <- weight,
imageUrl <- main_image, tags <- sizes, all EXPORT, and quantity <- stock
(IMPORT: the channel owns the stock); channel locales en, fr and ar (from
en_US, fr_FR, ar_AE). That is 13 slots per product: 7 shared, 2 per locale.
Every product is treated as linked and checked, as a FULL sync checks every
linked product for drift (the catalog's disabled flag is ignored here).

The three sides, per product. PIM: ExportPlan.build of the product's values,
as the engine builds it. `sent`: what the PIM last sent (its sendable values).
`base`: what the channel stored, read back after the write, projected on the
slots: the channel reformats as real ones do (decimals lose trailing zeros,
"23.50" -> "23.5"; tags come back sorted). Channel: that stored document as a
RemoteProduct, with two unmapped fields besides. Then, drawn per product from
a seeded generator, a realistic share differs (slot chosen at random, titles
and prices most often, any locale):

    1%    changed in the PIM since the last sync (1 slot, a fifth of them 2)  -> EXPORT
    1%    changed on the channel by a merchant                                -> DRIFT
    0.2%  changed on both sides, differently                                  -> CONFLICT
    0.3%  changed on both sides to the same value                             -> CONVERGED
    0.5%  only reformatted by the channel (re-spaced HTML, "23.5" -> "23.50")  -> NOTHING
    3%    stock moved on the channel (sales or a restock; the IMPORT slot)     -> DRIFT

What is timed. Exactly what the sync engine does per product once the
channel's state is read (app/services/sync/pages.py `_reconcile`):
`reconcile(plan.slots, pim=export.sendable(), sent, base,
channel=remote_document(remote), strategy, pim_newer, force=False)`, products
streamed in the engine's chunks (CUSTOM_HTTP's chunk size from the planner,
500), each chunk's documents made before its timing and dropped after it.
The build of the PIM side is not in the time (bench/mapping_bench.py measures
it), nor the database or the channel round trips.

The baseline, measured in the same run on the same chunks, is the least any
three-way check must do: for each slot, one plain dictionary read in each of
the four documents (the PIM's sendable values made beforehand, sent, base and
the channel's fields as received) and two equality tests, no normalisation,
no classification, no decision. Each chunk runs both `--repeat` times
alternately; the best time of each per chunk is summed. The outcome counts
(from the engine's own classification) are checked against the workload as
planned, so the run shows the work was real and normalisation made no false
change. Peak RSS (the process's high-water mark) shows memory stays bounded.
"""

from __future__ import annotations

import argparse
import copy
import gc
import platform
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalog_data import ATTRIBUTES, BRANDS, CURRENCIES, LOCALES, SCOPES, products

from app.channels.base import RemoteProduct
from app.channels.registry import channel_type_spec
from app.domain.catalog import AttributeSpec, AttributeType, CatalogSpec
from app.domain.channels import ChannelType, FieldType
from app.domain.conflicts import MISSING, Outcome, Slot, pim_is_newer, read, write
from app.domain.connectors import ConflictStrategy, ConnectorSettings, LocalePair
from app.domain.export_plan import ExportPlan, ProductExport
from app.domain.mappings import MappingDirection, MappingDraft, check_mappings
from app.domain.reconcile import Reconciliation, reconcile
from app.domain.sync import remote_document
from app.services.sync.planner import chunk_size

MIB = 1024 * 1024
SCOPE = "ecommerce"
CHANNEL_LOCALES = (LocalePair("en_US", "en"), LocalePair("fr_FR", "fr"), LocalePair("ar_AE", "ar"))
MAPPINGS = (
    MappingDraft("name", "title", MappingDirection.BOTH),
    MappingDraft("description", "description", MappingDirection.EXPORT),
    MappingDraft("price", "price", MappingDirection.EXPORT),
    MappingDraft("ean", "barcode", MappingDirection.EXPORT),
    MappingDraft("brand", "vendor", MappingDirection.EXPORT),
    MappingDraft("weight", "weight", MappingDirection.EXPORT, {"convertUnit": "KILOGRAM"}),
    MappingDraft("main_image", "imageUrl", MappingDirection.EXPORT),
    MappingDraft("sizes", "tags", MappingDirection.EXPORT),
    MappingDraft("stock", "quantity", MappingDirection.IMPORT),
)
UNMAPPED = {"status": "active", "compareAtPrice": None}
"""Fields the channel holds that no mapping names: in the channel's document, never in a slot."""
# Cumulative shares of the per-product draw (see the docstring).
PIM_CHANGED, DRIFTED, CONFLICTED, CONVERGED, REFORMATTED = 0.010, 0.020, 0.022, 0.025, 0.030
STOCK_MOVED = 0.03
TWO_SLOTS = 0.2
"""Share of PIM changes that touch two slots."""
SLOT_WEIGHT = {"title": 4, "price": 3, "description": 2}
"""How often a change hits each field (others: 1); within a field, every channel locale alike."""
REFORMATTED_FIELDS = ("description", "price", "tags")
SYNCED_AT = datetime(2026, 3, 1, tzinfo=UTC)
EDITS = {
    # (older PIM text, a merchant's edit) appended per channel locale
    "en": (" - Sale", " (new)"),
    "fr": (" - Soldes", " (nouveau)"),
    "ar": (" - تخفيضات", " (جديد)"),
}


# -- the connector ---------------------------------------------------------------------------------


def catalog() -> CatalogSpec:
    attributes = {
        attribute.code: AttributeSpec(index + 1, attribute.code, AttributeType(attribute.type), *flags)
        for index, attribute in enumerate(ATTRIBUTES)
        for flags in [(attribute.localizable, attribute.scopable)]
    }
    return CatalogSpec(attributes=attributes, locales=LOCALES, scopes=SCOPES, currencies=CURRENCIES)


def plan(spec: CatalogSpec) -> ExportPlan:
    channel = channel_type_spec(ChannelType.CUSTOM_HTTP)
    settings = ConnectorSettings(scope=SCOPE, currency="EUR", locale_mapping=CHANNEL_LOCALES)
    channel_locales = [pair.channel_locale for pair in CHANNEL_LOCALES]
    rules, errors = check_mappings(
        list(MAPPINGS), catalog=spec, channel=channel, settings=settings, channel_locales=channel_locales
    )
    if errors:
        raise SystemExit(f"bench mappings do not validate: {errors}")
    return ExportPlan(rules=rules, settings=settings, catalog=spec, channel=channel)


# -- the workload ----------------------------------------------------------------------------------


def stored(slot: Slot, value: Any) -> Any:
    """What the channel keeps of a value it was sent: decimals without trailing zeros, tags sorted."""
    if value is None or value is MISSING:
        return value
    if slot.field_type is FieldType.DECIMAL:
        return format(Decimal(value).normalize(), "f")
    if slot.field_type is FieldType.STRING_LIST:
        return sorted(value)
    return value


def reformatted(slot: Slot, value: Any) -> Any:
    """The same value as the channel may give it back another time: equal under normalisation, not as text."""
    if slot.field_type is FieldType.DECIMAL:
        return format(Decimal(value).quantize(Decimal("0.001")), "f")
    if slot.field_type is FieldType.STRING_LIST:
        return [f" {item}" for item in reversed(value)]
    return "\n  " + str(value).replace(". ", ".  ") + "\n"


def edited(slot: Slot, value: Any, which: int) -> Any:
    """Another value for the slot: which=0 the PIM's older one, which=1 a merchant's edit."""
    if slot.field_type in (FieldType.DECIMAL, FieldType.INTEGER):
        step = (Decimal("1.00"), Decimal("0.50"))[which]
        return format(Decimal(value) + step, "f") if slot.field_type is FieldType.DECIMAL else int(value) + 7 + which
    if slot.field_type is FieldType.STRING_LIST:
        return [*value, ("XXS", "3XL")[which]]
    if slot.field == "vendor":
        return [brand for brand in BRANDS if brand != value][which]
    if slot.field == "barcode":
        return str(int(value) + 10 * (which + 1))
    if slot.field_type is FieldType.URL:
        return f"{value}?v={which + 1}"
    return str(value) + EDITS[slot.channel_locale][which]


@dataclass(slots=True)
class Checked:
    """One product as the engine holds it when it reconciles: built export, listing snapshots, channel state."""

    product_id: int
    updated_at: datetime
    export: ProductExport
    sent: dict[str, Any]
    base: dict[str, Any]
    remote: RemoteProduct
    pim: dict[str, Any]
    """export.sendable(), made beforehand for the baseline (the engine's timing makes its own)."""


class Workload:
    """Streams the catalog in chunks and makes each product's three sides, noting what each slot should be."""

    def __init__(self, export_plan: ExportPlan, spec: CatalogSpec, seed: int) -> None:
        self.plan = export_plan
        self.ids = {code: attribute.id for code, attribute in spec.attributes.items()}
        self.rng = random.Random(seed + 1)
        self.planned: Counter[Outcome] = Counter()
        self.exporting = [slot for slot in export_plan.slots if slot.exports]
        self.weights = [SLOT_WEIGHT.get(slot.field, 1) for slot in self.exporting]
        self.stock_slot = next(slot for slot in export_plan.slots if slot.field == "quantity")

    def chunks(self, count: int, size: int, seed: int) -> Iterator[list[Checked]]:
        chunk: list[Checked] = []
        for number, product in enumerate(products(count, seed=seed), start=1):
            chunk.append(self._checked(number, product))
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _checked(self, number: int, product: Mapping[str, Any]) -> Checked:
        ids, rng = self.ids, self.rng
        values = {
            (ids[value["attribute"]], value["locale"] or "", value["scope"] or ""): value["data"]
            for value in product["values"]
        }
        export = self.plan.build(product["sku"], values)
        pim = export.sendable()
        stock = next(value["data"] for value in product["values"] if value["attribute"] == "stock")
        sent = copy.deepcopy(pim)
        base: dict[str, Any] = {"fields": {}, "locales": {}}
        for slot in self.plan.slots:
            value = stock if slot is self.stock_slot else read(sent, slot)
            write(base, slot, stored(slot, value))
        channel = copy.deepcopy(base)
        self._vary(pim, sent, base, channel)
        if rng.random() < STOCK_MOVED:
            sold = rng.randrange(1, 5)
            write(channel, self.stock_slot, stock - sold if stock >= sold else stock + 20)  # sales, or a restock
            self.planned[Outcome.DRIFT] += 1
        updated_at = SYNCED_AT + timedelta(seconds=number)
        remote = RemoteProduct(
            sku=product["sku"],
            external_id=f"gid://bench/{number}",
            fields={**channel["fields"], **UNMAPPED},
            locales=channel["locales"],
            updated_at=updated_at + timedelta(minutes=5),
        )
        return Checked(number, updated_at, export, sent, base, remote, pim)

    def _pick(self, pim: Mapping[str, Any], fields: Sequence[str] | None = None) -> Slot:
        while True:
            slot = self.rng.choices(self.exporting, self.weights)[0]
            if read(pim, slot) not in (None, MISSING) and (fields is None or slot.field in fields):
                return slot

    def _vary(self, pim: dict[str, Any], sent: dict[str, Any], base: dict[str, Any], channel: dict[str, Any]) -> None:
        draw = self.rng.random()
        if draw >= REFORMATTED:
            return
        if draw < PIM_CHANGED:
            slots = {self._pick(pim) for _ in range(2 if self.rng.random() < TWO_SLOTS else 1)}
            outcome = Outcome.EXPORT
        else:
            fields = REFORMATTED_FIELDS if draw >= CONVERGED else None
            slots = {self._pick(pim, fields)}
            outcome = (
                Outcome.DRIFT
                if draw < DRIFTED
                else Outcome.CONFLICT
                if draw < CONFLICTED
                else Outcome.CONVERGED
                if draw < CONVERGED
                else Outcome.NOTHING
            )
        for slot in slots:
            value = read(pim, slot)
            if outcome in (Outcome.EXPORT, Outcome.CONFLICT, Outcome.CONVERGED):
                older = edited(slot, value, 0)
                write(sent, slot, older)
                write(base, slot, stored(slot, older))
                write(channel, slot, stored(slot, older))
            if outcome in (Outcome.DRIFT, Outcome.CONFLICT):
                write(channel, slot, stored(slot, edited(slot, value, 1)))
            elif outcome is Outcome.CONVERGED:
                write(channel, slot, stored(slot, value))
            elif outcome is Outcome.NOTHING:
                write(channel, slot, reformatted(slot, read(base, slot)))
            self.planned[outcome] += 1


# -- the two measured loops ------------------------------------------------------------------------


def engine_pass(chunk: Sequence[Checked], export_plan: ExportPlan, strategy: ConflictStrategy) -> list[Reconciliation]:
    """pages._reconcile's work per product, with the same arguments (the PIM's value times: none read)."""
    times: dict[tuple[int, int, str, str], datetime] = {}
    found = []
    for item in chunk:
        channel_time = item.remote.updated_at
        product_time = item.updated_at

        def pim_newer(
            slot: Slot,
            product_id: int = item.product_id,
            product_time: datetime = product_time,
            channel_time: Any = channel_time,
        ) -> bool | None:
            key = (product_id, *export_plan.value_key(slot))
            return pim_is_newer(times.get(key, product_time), channel_time)

        found.append(
            reconcile(
                export_plan.slots,
                pim=item.export.sendable(),
                sent=item.sent,
                base=item.base,
                channel=remote_document(item.remote),
                strategy=strategy,
                pim_newer=pim_newer,
                force=False,
            )
        )
    return found


def baseline_pass(chunk: Sequence[Checked], keys: Sequence[tuple[str | None, str]]) -> int:
    """The floor: per slot, one dict read in each of the four documents and two equality tests."""
    differing = 0
    nothing: dict[str, Any] = {}
    for item in chunk:
        pim, sent, base, remote = item.pim, item.sent, item.base, item.remote
        for locale, name in keys:
            if locale is None:
                now, then = pim["fields"].get(name), sent["fields"].get(name)
                stored_value, current = base["fields"].get(name), remote.fields.get(name)
            else:
                now = pim["locales"].get(locale, nothing).get(name)
                then = sent["locales"].get(locale, nothing).get(name)
                stored_value = base["locales"].get(locale, nothing).get(name)
                current = remote.locales.get(locale, nothing).get(name)
            if now != then or current != stored_value:
                differing += 1
    return differing


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MIB  # KiB on Linux


# -- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--products", type=int, default=100_000, help="products on the connector (100000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each loop per chunk; the best counts")
    parser.add_argument(
        "--strategy", type=ConflictStrategy, default=ConflictStrategy.MANUAL, choices=list(ConflictStrategy)
    )
    parser.add_argument("--seed", type=int, default=20260131, help="seed of the generated catalog")
    options = parser.parse_args()
    spec = catalog()
    export_plan = plan(spec)
    slots = export_plan.slots
    keys = [(slot.channel_locale, slot.field) for slot in slots]
    size = chunk_size(channel_type_spec(ChannelType.CUSTOM_HTTP).batch_size)
    workload = Workload(export_plan, spec, options.seed)
    rss_before = peak_rss_mib()

    engine_seconds = baseline_seconds = 0.0
    outcomes: Counter[Outcome] = Counter()
    actions: Counter[str] = Counter()
    sending = holding = checked = 0
    started = time.perf_counter()
    for chunk in workload.chunks(options.products, size, options.seed):
        gc.collect()
        engine_best = baseline_best = float("inf")
        for _ in range(options.repeat):
            clock = time.perf_counter()
            results = engine_pass(chunk, export_plan, options.strategy)
            engine_best = min(engine_best, time.perf_counter() - clock)
            clock = time.perf_counter()
            baseline_pass(chunk, keys)
            baseline_best = min(baseline_best, time.perf_counter() - clock)
        engine_seconds += engine_best
        baseline_seconds += baseline_best
        for rec in results:
            outcomes.update(result.outcome for result in rec.results)
            actions.update(result.action.value for result in rec.results)
            sending += rec.sends
            holding += bool(rec.held)
        checked += len(chunk)
    wall = time.perf_counter() - started

    compared = checked * len(slots)
    engine_rate, baseline_rate = compared / engine_seconds, compared / baseline_seconds
    locales = ", ".join(pair.channel_locale for pair in CHANNEL_LOCALES)
    shared = sum(slot.channel_locale is None for slot in slots)
    print(f"python {platform.python_version()} on {platform.machine()}, one core")
    print(
        f"connector: CUSTOM_HTTP, {checked:,} products, {len(slots)} slots each "
        f"({shared} shared, {(len(slots) - shared) // len(CHANNEL_LOCALES)} per locale x {locales}), "
        f"strategy {options.strategy.value}, chunks of {size}"
    )
    print(f"slots compared (field x locale):  {compared:>12,}")
    print(f"reconcile time (best of {options.repeat}/chunk): {engine_seconds:>11.2f} s")
    print(f"baseline (bare dict reads + ==):  {baseline_rate:>12,.0f} slots/s")
    print(
        f"three-way detection (reconcile):  {engine_rate:>12,.0f} slots/s  ({checked / engine_seconds:,.0f} products/s)"
    )
    print(f"detection cost over baseline:     {baseline_rate / engine_rate:>12.1f} x")
    print("outcomes (slots)       planned      found")
    for outcome in (Outcome.EXPORT, Outcome.DRIFT, Outcome.CONVERGED, Outcome.CONFLICT, Outcome.NOTHING):
        planned = (
            workload.planned[outcome]
            if outcome is not Outcome.NOTHING
            else compared - sum(workload.planned[other] for other in Outcome if other is not Outcome.NOTHING)
        )
        print(f"  {outcome.value:<18} {planned:>10,} {outcomes[outcome]:>10,}")
    print(f"  (of NOTHING, {workload.planned[Outcome.NOTHING]:,} only reformatted by the channel)")
    print("actions (slots):       " + ", ".join(f"{name} {count:,}" for name, count in sorted(actions.items())))
    print(f"products that send: {sending:,}; with a slot held for a person: {holding:,}")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB (after imports: {rss_before:.0f} MiB); whole run {wall:.0f} s")
    for outcome in (Outcome.EXPORT, Outcome.DRIFT, Outcome.CONVERGED, Outcome.CONFLICT):
        if outcomes[outcome] != workload.planned[outcome]:
            raise SystemExit(f"the workload is not what was planned: {outcome.value} {outcomes[outcome]:,}")


if __name__ == "__main__":
    main()
