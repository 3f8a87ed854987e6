"""Benchmark the mapping pipeline: (product, channel locale) documents built per second on one core.

Run from the repository root:

    .venv/bin/python bench/mapping_bench.py [--products 20000] [--repeat 5]

The product has 20 mapped attributes (text, HTML, price, number, measure,
options, dates ...) in 3 locales (en_US, ar_AE with one value reached by
fallback, fr_FR), and the mappings carry 3 transformations (stripHtml on the
description, applyTax on the price, maxLength on the title). The figure is the
best of `--repeat` runs of ExportPlan.build over distinct products.

The baseline, measured in the same run on the same values, is the least any
pipeline must do: one dictionary read per (field, locale) into a new dict, no
fallback, no transformation, no type handling. The ratio says how much the
real pipeline costs over that floor; the design target is 50,000 documents
per second.
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.domain.catalog import AttributeSpec, AttributeType, CatalogSpec
from app.domain.channels import ChannelField, ChannelType, ChannelTypeSpec, FieldType
from app.domain.connectors import ConnectorSettings, FallbackPolicy, LocalePair
from app.domain.export_plan import ExportPlan, ValueTable
from app.domain.mappings import MappingDirection, MappingDraft, check_mappings

LOCALES = ("en_US", "ar_AE", "fr_FR")
SCOPE = "ecommerce"

# (code, attribute type, localizable, channel field type, channel field localizable)
ATTRIBUTES: tuple[tuple[str, AttributeType, bool, FieldType, bool], ...] = (
    ("name", AttributeType.TEXT, True, FieldType.STRING, True),
    ("description", AttributeType.TEXTAREA, True, FieldType.HTML, True),
    ("short_description", AttributeType.TEXTAREA, True, FieldType.HTML, True),
    ("meta_title", AttributeType.TEXT, True, FieldType.STRING, True),
    ("meta_description", AttributeType.TEXT, True, FieldType.STRING, True),
    ("subtitle", AttributeType.TEXT, True, FieldType.STRING, True),
    ("care", AttributeType.TEXTAREA, True, FieldType.STRING, True),
    ("material", AttributeType.TEXT, True, FieldType.STRING, True),
    ("price", AttributeType.PRICE, False, FieldType.DECIMAL, False),
    ("compare_price", AttributeType.PRICE, False, FieldType.DECIMAL, False),
    ("stock", AttributeType.NUMBER, False, FieldType.INTEGER, False),
    ("weight", AttributeType.METRIC, False, FieldType.DECIMAL, False),
    ("ean", AttributeType.IDENTIFIER, False, FieldType.STRING, False),
    ("brand", AttributeType.TEXT, False, FieldType.STRING, False),
    ("color", AttributeType.SELECT, False, FieldType.STRING, False),
    ("tags", AttributeType.MULTISELECT, False, FieldType.STRING_LIST, False),
    ("active", AttributeType.BOOLEAN, False, FieldType.BOOLEAN, False),
    ("release_date", AttributeType.DATE, False, FieldType.DATE, False),
    ("image", AttributeType.IMAGE, False, FieldType.URL, False),
    ("model", AttributeType.TEXT, False, FieldType.STRING, False),
)
TRANSFORMATIONS: dict[str, Any] = {
    "name": {"maxLength": 70},
    "description": {"stripHtml": True},
    "price": {"applyTax": True, "taxRate": "0.15"},
    "weight": {"convertUnit": "KILOGRAM"},  # a measure into a number field names the unit it is sent in
}


def catalog() -> CatalogSpec:
    attributes = {
        code: AttributeSpec(index + 1, code, kind, localizable, False)
        for index, (code, kind, localizable, _, _) in enumerate(ATTRIBUTES)
    }
    return CatalogSpec(attributes=attributes, locales=LOCALES, scopes=(SCOPE,), currencies=("EUR",))


def channel() -> ChannelTypeSpec:
    fields = tuple(
        ChannelField(f"f_{code}", field_type, required=code == "name", localizable=field_localizable)
        for code, _, _, field_type, field_localizable in ATTRIBUTES
    )
    return ChannelTypeSpec(ChannelType.CUSTOM_HTTP, "Bench shop", (), {}, fields)


def plan() -> ExportPlan:
    spec, shop = catalog(), channel()
    settings = ConnectorSettings(
        scope=SCOPE,
        currency="EUR",
        locale_mapping=tuple(LocalePair(code, code[:2]) for code in LOCALES),
        fallback_policy=FallbackPolicy.SEND,
    )
    drafts = [
        MappingDraft(code, f"f_{code}", MappingDirection.EXPORT, TRANSFORMATIONS.get(code)) for code, *_ in ATTRIBUTES
    ]
    rules, errors = check_mappings(drafts, catalog=spec, channel=shop, settings=settings, channel_locales=None)
    if errors:
        raise SystemExit(f"bench mappings do not validate: {errors}")
    return ExportPlan(rules=rules, settings=settings, catalog=spec, channel=shop)


def product_values(number: int, spec: CatalogSpec) -> ValueTable:
    texts = {
        "en_US": f"Solid oak dining chair number {number} with a curved back",
        "ar_AE": f"كرسي طعام من خشب البلوط رقم {number} بظهر منحني",
        "fr_FR": f"Chaise de salle à manger en chêne massif numéro {number}",
    }
    values: dict[tuple[int, str, str], Any] = {}
    for code, kind, localizable, _, _ in ATTRIBUTES:
        attribute_id = spec.attributes[code].id
        if localizable:
            for locale in LOCALES:
                if locale == "ar_AE" and code == "care":
                    continue  # reached by fallback to en_US
                text = texts[locale]
                values[(attribute_id, locale, "")] = f"<p>{text}</p>" if kind is AttributeType.TEXTAREA else text
            continue
        values[(attribute_id, "", "")] = {
            AttributeType.PRICE: {"EUR": f"{number % 500}.99", "USD": "10.00"},
            AttributeType.NUMBER: number % 40,
            AttributeType.METRIC: {"amount": "4.5", "unit": "KILOGRAM"},
            AttributeType.IDENTIFIER: f"{4006381333931 + number}",
            AttributeType.TEXT: f"Maker {number % 7}",
            AttributeType.SELECT: "oak",
            AttributeType.MULTISELECT: ["chair", "oak", "dining"],
            AttributeType.BOOLEAN: True,
            AttributeType.DATE: "2026-03-01",
            AttributeType.IMAGE: f"https://cdn.example.com/{number}.jpg",
        }[kind]
    return values


def baseline_builder(spec: CatalogSpec) -> Callable[[str, ValueTable], list[dict[str, Any]]]:
    """The floor: read each field's value for each locale into a dict, nothing more."""
    keys = {
        locale: [
            (f"f_{code}", (spec.attributes[code].id, locale if localizable else "", ""))
            for code, _, localizable, _, _ in ATTRIBUTES
        ]
        for locale in LOCALES
    }

    def build(_sku: str, values: ValueTable) -> list[dict[str, Any]]:
        return [{name: values.get(key) for name, key in keys[locale]} for locale in LOCALES]

    return build


def best_rate(work: Callable[[], None], documents: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return documents / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    spec, export_plan = catalog(), plan()
    products = [(f"SKU-{n}", product_values(n, spec)) for n in range(options.products)]
    sample = export_plan.build(*products[1])
    assert not sample.problems, sample.problems
    assert sample.locales[1].sources["f_care"] == "fallback:en_US"
    baseline = baseline_builder(spec)
    documents = options.products * len(LOCALES)

    def run_pipeline() -> None:
        for sku, values in products:
            export_plan.build(sku, values)

    def run_baseline() -> None:
        for sku, values in products:
            baseline(sku, values)

    pipeline_rate = best_rate(run_pipeline, documents, options.repeat)
    baseline_rate = best_rate(run_baseline, documents, options.repeat)
    print(f"python {platform.python_version()} on {platform.machine()}, one core")
    print(f"products: {options.products:,} x {len(LOCALES)} locales, 20 attributes, 3 transformations")
    print(f"baseline (bare dict reads):   {baseline_rate:>12,.0f} documents/s")
    print(f"mapping pipeline:             {pipeline_rate:>12,.0f} documents/s")
    print(f"pipeline cost over baseline:  {baseline_rate / pipeline_rate:>12.1f} x")
    print(f"design target 50,000/s:       {pipeline_rate / 50_000:>12.2f} of target")


if __name__ == "__main__":
    main()
