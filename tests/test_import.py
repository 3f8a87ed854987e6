"""Imports from Akeneo's real demo catalog and from JSON Lines: every value lands, bad rows only are refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.db.engine import Database
from app.repositories.products import ProductFilter, ProductRepository
from app.services.catalog_setup import CatalogSetupService, ScopeInputData
from app.services.importing.importer import Importer
from app.services.importing.sources import UnsupportedFile
from tests.conftest import TenantHandle
from tests.shared_data import shared_path

AKENEO = shared_path("data", "akeneo_icecat_demo_dev")
NOT_VALUES = {"sku", "enabled", "family", "parent", "categories", "groups"}


async def enable(
    db: Database, tenant: TenantHandle, locales: list[str], scopes: list[str], currencies: list[str]
) -> None:
    async with db.transaction() as session:
        service = CatalogSetupService(session)
        await service.set_locales(tenant.id, locales)
        await service.set_scopes(tenant.id, [ScopeInputData(code, {}) for code in scopes])
        await service.set_currencies(tenant.id, currencies)


def expected_from_csv(types: dict[str, tuple[str, bool, bool]]) -> dict[tuple[str, str, str, str], Any]:
    """Every non-empty cell of products.csv, keyed as the catalog should hold it."""
    expected: dict[tuple[str, str, str, str], Any] = {}
    with (AKENEO / "products.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            for column, cell in row.items():
                if column in NOT_VALUES or column.endswith(("-products", "-groups")) or not cell:
                    continue
                code, *parts = column.split("-")
                kind, localizable, scopable = types[code]
                unit = kind == "METRIC" and parts[-1:] == ["unit"]
                currency = parts.pop() if kind == "PRICE" else None
                parts = parts[:-1] if unit else parts
                key = (row["sku"], code, parts.pop(0) if localizable else "", parts.pop(0) if scopable else "")
                if kind in {"PRICE", "METRIC"}:
                    expected.setdefault(key, {})[currency or ("unit" if unit else "amount")] = cell
                elif kind == "MULTISELECT":
                    expected[key] = cell.split(",")
                elif kind == "BOOLEAN":
                    expected[key] = cell == "1"
                elif kind == "NUMBER":
                    expected[key] = float(cell) if "." in cell else int(cell)
                else:
                    expected[key] = cell
    return expected


async def stored_values(db: Database, tenant: TenantHandle) -> dict[tuple[str, str, str, str], Any]:
    async with db.reader() as session:
        spec = await CatalogSetupService(session).spec(tenant.id)
        by_id = spec.by_id
        repository = ProductRepository(session)
        products = await repository.page(tenant.id, ProductFilter(), after_id=None, limit=10_000)
        skus = {product.id: product.sku for product in products}
        rows = await repository.values_of(tenant.id, list(skus))
    return {(skus[r.product_id], by_id[r.attribute_id].code, r.locale, r.scope): r.data for r in rows}


async def test_akeneo_demo_catalog_imports_whole_with_every_value_in_place(db: Database, tenant: TenantHandle) -> None:
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    importer = Importer(db)
    attributes = await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    assert (attributes.imported, attributes.rejected) == (77, 0)
    report = await importer.products(tenant.code, AKENEO / "products.csv")
    assert (report.imported, report.rejected) == (1239, 0), report.rejections[:3]
    assert {"categories", "groups", "PACK-products", "X_SELL-groups"} <= set(report.skipped_columns)
    async with db.reader() as session:
        spec = await CatalogSetupService(session).spec(tenant.id)
    types = {a.code: (a.type.value, a.localizable, a.scopable) for a in spec.attributes.values()}
    expected = expected_from_csv(types)
    stored = await stored_values(db, tenant)
    assert len(expected) == 8724
    assert stored == expected
    again = await importer.products(tenant.code, AKENEO / "products.csv")
    assert (again.imported, again.changed) == (1239, 0)


async def test_values_in_a_locale_that_is_not_enabled_reject_their_row(db: Database, tenant: TenantHandle) -> None:
    await enable(db, tenant, ["en_US", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    importer = Importer(db)
    await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    report = await importer.products(tenant.code, AKENEO / "products.csv")
    assert report.rejected > 0 and report.imported + report.rejected == 1239
    reasons = [reason for rejection in report.rejections for reason in rejection.reasons]
    assert all("de_DE" in reason and "CAT-002" in reason for reason in reasons), reasons[:3]
    assert reasons[0].split(":")[0].split("-")[1] == "de_DE"
    async with db.reader() as session:
        total = len(await ProductRepository(session).page(tenant.id, ProductFilter(), after_id=None, limit=5000))
    assert total == report.imported


async def test_jsonl_rows_are_checked_one_by_one(db: Database, tenant: TenantHandle, tmp_path: Path) -> None:
    await enable(db, tenant, ["en_US", "ar_AE"], ["ecommerce"], ["AED"])
    attributes = tmp_path / "attributes.jsonl"
    attributes.write_text(
        "\n".join(
            json.dumps(line)
            for line in [
                {"code": "name", "type": "TEXT", "localizable": True, "labels": {"ar_AE": "الاسم"}},
                {"code": "price", "type": "PRICE", "localizable": False},
                {"code": "bad", "type": "RICH_MEDIA", "localizable": False},
            ]
        )
    )
    report = await Importer(db).attributes(tenant.code, attributes)
    assert (report.imported, report.rejected) == (2, 1)
    assert report.rejections[0].line == 3 and "RICH_MEDIA" in report.rejections[0].reasons[0]
    products = tmp_path / "products.jsonl"
    lines = [
        json.dumps({"sku": "A-1", "values": [{"attribute": "name", "locale": "ar_AE", "data": "قميص"}]}),
        "{not json",
        json.dumps({"values": []}),
        json.dumps(
            {"sku": "A-2", "values": [{"attribute": "price", "data": "10.00"}, {"attribute": "nope", "data": 1}]}
        ),
        "",
        json.dumps({"sku": "A-1", "values": [{"attribute": "price", "data": {"AED": "99.90"}}]}),
    ]
    products.write_text("\n".join(lines) + "\n")
    rejected: list[Any] = []
    report = await Importer(db, on_reject=rejected.append).products(tenant.code, products)
    assert (report.imported, report.rejected) == (2, 3)
    assert [r.line for r in rejected] == [2, 3, 4]
    assert "invalid JSON" in rejected[0].reasons[0]
    assert "sku" in rejected[1].reasons[0]
    assert rejected[2].reasons == ["values[1]: unknown attribute 'nope' (CAT-003)"]
    stored = await stored_values(db, tenant)
    assert stored == {("A-1", "name", "ar_AE", ""): "قميص", ("A-1", "price", "", ""): {"AED": "99.90"}}


async def test_a_csv_column_no_attribute_matches_stops_the_import_before_writing(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    await enable(db, tenant, ["en_US"], ["ecommerce"], ["EUR"])
    file = tmp_path / "products.csv"
    file.write_text('sku;name;colour\n"A-1";"Shirt";"red"\n', encoding="utf-8")
    with pytest.raises(UnsupportedFile, match="colour"):
        await Importer(db).products(tenant.code, file)
    assert await stored_values(db, tenant) == {}


async def test_unknown_tenant_is_a_clear_error(db: Database, tmp_path: Path) -> None:
    file = tmp_path / "p.jsonl"
    file.write_text("")
    with pytest.raises(Exception, match="no tenant 'ghost'"):
        await Importer(db).products("ghost", file)


async def test_an_import_leaves_the_planner_statistics_fresh(db: Database, tenant: TenantHandle) -> None:
    """On PostgreSQL, a sync's value lookups were planned without statistics after a bulk load (28 ms a page
    instead of 1 ms); SQLite plans them well without, and gets no statistics tables of its own."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    importer = Importer(db)
    await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    before = await _analyzed(db)
    report = await importer.products(tenant.code, AKENEO / "products.csv")
    assert report.imported == 1239
    after = await _analyzed(db)
    if db.sqlite:
        assert before == after == {}
    else:
        assert set(after) == {"products", "product_values"}
        assert all(before.get(table) is None or after[table] > before[table] for table in after)


async def _analyzed(db: Database) -> dict[str, Any]:
    """When each catalog table was last analyzed (PostgreSQL), or the statistics SQLite keeps (none)."""
    async with db.reader() as session:
        if db.sqlite:
            found = await session.execute(text("SELECT name FROM sqlite_master WHERE name LIKE 'sqlite_stat%'"))
            return {row[0]: True for row in found}
        found = await session.execute(
            text(
                "SELECT relname, last_analyze FROM pg_stat_user_tables "
                "WHERE relname IN ('products', 'product_values') AND last_analyze IS NOT NULL"
            )
        )
        return {row[0]: row[1] for row in found}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("products.csv", 'sku;name-en_US\n"A-1";"Shirt"\n"A-2";"Chemise brodée"\n'),
        ("products.jsonl", '{"sku": "A-1"}\n{"sku": "A-2", "family": "brodée"}\n'),
    ],
)
async def test_a_file_that_is_not_utf8_is_refused_before_anything_is_written(
    db: Database, tenant: TenantHandle, tmp_path: Path, name: str, text: str
) -> None:
    """A spreadsheet saved as Latin-1: refused whole, with the line to look at, rather than half imported."""
    await enable(db, tenant, ["en_US"], ["ecommerce"], ["EUR"])
    attributes = tmp_path / "attributes.jsonl"
    attributes.write_text(json.dumps({"code": "name", "type": "TEXT", "localizable": True}))
    await Importer(db).attributes(tenant.code, attributes)
    file = tmp_path / name
    file.write_bytes(text.encode("latin-1"))
    with pytest.raises(UnsupportedFile, match="line 3 is not UTF-8" if name.endswith("csv") else "line 2 is not UTF-8"):
        await Importer(db).products(tenant.code, file)
    assert await stored_values(db, tenant) == {}
