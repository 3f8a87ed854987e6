"""Imports from Akeneo's real demo catalog and from JSON Lines: every value lands, bad rows only are refused."""

from __future__ import annotations

import asyncio
import codecs
import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.db.engine import Database
from app.domain.errors import TenantNotFound
from app.domain.values import MAX_TEXT_LENGTH
from app.repositories.attributes import AttributeRepository
from app.repositories.products import ProductFilter, ProductRepository
from app.services.catalog_setup import CatalogSetupService, ScopeInputData
from app.services.importing.importer import BATCH_SIZE, Importer
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
                elif kind == "TEXTAREA":
                    expected[key] = lines(cell)
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
    texts = [data for data in stored.values() if isinstance(data, str)]
    # The print descriptions' 1,275 "\n" escapes are line breaks; the one in a single-line TEXT (a power supply's
    # two ratings) is kept as written, as are the no-break spaces.
    assert sum("\\n" in text for text in texts) == 1
    assert (sum("\n" in text for text in texts), sum("\u00a0" in text for text in texts)) == (1275 + 39, 89)
    again = await importer.products(tenant.code, AKENEO / "products.csv")
    assert (again.imported, again.changed) == (1239, 0)


def lines(textarea: str) -> str:
    """A TEXTAREA cell of Akeneo's products.csv as stored: its line breaks written out as \\n are line breaks."""
    return textarea.replace("\\n", "\n")


def first_lines(path: Path) -> list[int]:
    """The line each CSV row starts on, header first, as an editor numbers them (a quoted cell spans lines)."""
    starts: list[int] = []
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.reader(file, delimiter=";")
        while (start := reader.line_num + 1) and next(reader, None) is not None:
            starts.append(start)
    return starts


async def test_a_stopped_import_keeps_every_row_up_to_the_line_it_reports_and_none_after(
    db: Database, tenant: TenantHandle
) -> None:
    """Ctrl-C's stop, asked while the second batch is read: the first is written whole, the second never begun."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    await Importer(db).attributes(tenant.code, AKENEO / "attributes.csv")
    path = AKENEO / "products.csv"
    with path.open(encoding="utf-8", newline="") as file:
        skus = [row["sku"] for row in csv.DictReader(file, delimiter=";")]
    assert len(skus) > 2 * BATCH_SIZE, "the file no longer has three batches"
    stop, read = asyncio.Event(), [0]

    def two_thirds_read(size: int) -> None:  # past the first batch's rows, short of the second's
        read[0] += size
        if read[0] > path.stat().st_size * 2 / 3:
            stop.set()

    report = await Importer(db, progress=two_thirds_read, stop=stop).products(tenant.code, path)
    assert report.stopped and (report.imported, report.rejected) == (BATCH_SIZE, 0)
    async with db.reader() as session:
        stored = await ProductRepository(session).page(tenant.id, ProductFilter(), after_id=None, limit=10_000)
    assert sorted(product.sku for product in stored) == sorted(skus[:BATCH_SIZE])
    assert report.written_through == first_lines(path)[BATCH_SIZE]  # the header is row 0


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


async def test_columns_of_a_locale_in_akeneos_spelling_land_in_that_locale(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """Akeneo names Traditional Chinese zh_TW, Java names Hebrew iw_IL: a catalog that enables them as spelled
    takes `description-zh_TW-print` and `description-iw_IL-print` columns into them, none left out as unknown."""
    await enable(db, tenant, ["en_US", "zh_TW", "iw_IL"], ["print"], ["EUR"])
    importer = Importer(db)
    await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    rows = real_rows("sku", "description-fr_FR-print", "description-de_DE-print", count=2)
    respelled = [
        {
            "sku": r["sku"],
            "description-zh_TW-print": r["description-fr_FR-print"],
            "description-iw_IL-print": r["description-de_DE-print"],
        }
        for r in rows
    ]
    report = await importer.products(tenant.code, write_csv(tmp_path / "zh_TW.csv", respelled))
    assert (report.imported, report.rejected) == (2, 0)
    stored = await stored_values(db, tenant)
    assert {key: data for key, data in stored.items() if key[1] == "description"} == {
        **{(r["sku"], "description", "zh_Hant_TW", "print"): lines(r["description-fr_FR-print"]) for r in rows},
        **{(r["sku"], "description", "he_IL", "print"): lines(r["description-de_DE-print"]) for r in rows},
    }


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
    assert (report.imported, report.repeated, report.rejected) == (1, 1, 3)
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
    """Named by its code; `pimsync import` says it as every command says it (test_cli)."""
    file = tmp_path / "p.jsonl"
    file.write_text("")
    with pytest.raises(TenantNotFound) as caught:
        await Importer(db).products("ghost", file)
    assert caught.value.tenant_code == "ghost" and str(caught.value) == "no tenant 'ghost'"


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


ATTRIBUTES = [
    {"code": "name", "type": "TEXT", "localizable": False},
    {"code": "erp_name", "type": "TEXT", "localizable": True},
    {"code": "colors", "type": "MULTISELECT", "localizable": False},
    {"code": "optical_zoom", "type": "NUMBER", "localizable": False},
]


def jsonl(path: Path, *lines: Any) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


async def small_catalog(db: Database, tenant: TenantHandle, tmp_path: Path) -> None:
    await enable(db, tenant, ["en_US"], ["ecommerce"], ["EUR"])
    report = await Importer(db).attributes(tenant.code, jsonl(tmp_path / "attributes.jsonl", *ATTRIBUTES))
    assert report.rejected == 0, report.rejections


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"sku": "T-1", "family": 123, "values": []}, "family must be a code (a string) or null"),
        ({"sku": "T-1", "parent": 5, "values": []}, "parent must be a code (a string) or null"),
        (
            {"sku": "T-1", "values": [{"attribute": "erp_name", "locale": 5, "data": "x"}]},
            "values[0]: locale must be a code (a string) or null",
        ),
        (
            {"sku": "T-1", "values": [{"attribute": "name", "scope": ["print"], "data": "x"}]},
            "values[0]: scope must be a code (a string) or null",
        ),
        (
            {"sku": "T-1", "values": [{"attribute": ["x"], "data": "x"}]},
            "values[0]: attribute must be a code (a string)",
        ),
        ({"sku": "T-1", "values": ["name"]}, "values[0]: a value is an object {attribute, locale, scope, data}"),
    ],
)
async def test_a_line_with_a_field_of_the_wrong_type_is_refused_alone(
    db: Database, tenant: TenantHandle, tmp_path: Path, line: dict[str, Any], reason: str
) -> None:
    """These crashed the whole import with a TypeError, losing the good rows of the batch."""
    await small_catalog(db, tenant, tmp_path)
    good = {"sku": "T-0", "values": [{"attribute": "name", "data": "ok"}]}
    after = {"sku": "T-2", "values": [{"attribute": "name", "data": "also ok"}]}
    report = await Importer(db).products(tenant.code, jsonl(tmp_path / "products.jsonl", good, line, after))
    assert (report.imported, report.rejected) == (2, 1)
    assert [(r.line, r.reasons) for r in report.rejections] == [(2, [reason])]
    assert await stored_values(db, tenant) == {("T-0", "name", "", ""): "ok", ("T-2", "name", "", ""): "also ok"}


async def test_a_nul_character_is_refused_as_a_value_error_on_every_database(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """PostgreSQL cannot store \\x00: the batch failed there with the rest of the file, while SQLite stored it."""
    await small_catalog(db, tenant, tmp_path)
    file = tmp_path / "products.csv"
    file.write_text("sku;name;colors\nNUL-0;fine;\nNUL-1;a\x00b;\nNUL-2;ok;red,bl\x00ue\nNUL-3;ok;\n", encoding="utf-8")
    report = await Importer(db).products(tenant.code, file)
    assert (report.imported, report.rejected) == (2, 2)
    assert [(r.line, r.reasons) for r in report.rejections] == [
        (3, ["name: name (TEXT): text cannot contain a NUL character (\\x00) (CAT-004)"]),
        (4, ["colors: colors (MULTISELECT): text cannot contain a NUL character (\\x00) (CAT-004)"]),
    ]
    assert await stored_values(db, tenant) == {("NUL-0", "name", "", ""): "fine", ("NUL-3", "name", "", ""): "ok"}
    line = {"sku": "NUL-4", "values": [{"attribute": "erp_name", "locale": "en_US", "data": "x\x00"}]}
    report = await Importer(db).products(tenant.code, jsonl(tmp_path / "products.jsonl", line))
    assert report.rejections[0].reasons == [
        "values[0]: erp_name (TEXT): text cannot contain a NUL character (\\x00) (CAT-004)"
    ]
    label = {"code": "nul_label", "type": "TEXT", "localizable": False, "labels": {"en_US": "a\x00b"}}
    report = await Importer(db).attributes(tenant.code, jsonl(tmp_path / "labels.jsonl", label))
    assert (report.imported, report.rejections[0].reasons) == (
        0,
        ["labels.en_US: a label cannot contain a NUL character (\\x00)"],
    )


async def test_a_lone_surrogate_refuses_its_line_alone_on_every_database(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """JSON's \\ud800 escape decodes to half a character, which neither database stores: the whole batch failed
    with a traceback, taking the good lines around it. A whole pair (an emoji as two escapes) is one character."""
    await small_catalog(db, tenant, tmp_path)
    lines = [
        {"sku": "S-1", "values": [{"attribute": "name", "data": "Gift \N{WRAPPED PRESENT}"}]},
        {"sku": "S-2", "values": [{"attribute": "name", "data": "Gift \ud83c"}]},
        {"sku": "S-3", "values": [{"attribute": "name", "data": "ok"}]},
    ]
    report = await Importer(db).products(tenant.code, jsonl(tmp_path / "products.jsonl", *lines))
    assert (report.imported, report.rejected) == (2, 1)
    assert [(r.line, r.reasons) for r in report.rejections] == [
        (2, ["values.0.data holds a lone surrogate (\\ud83c), half of a character, which cannot be stored"])
    ]
    assert await stored_values(db, tenant) == {
        ("S-1", "name", "", ""): "Gift \N{WRAPPED PRESENT}",
        ("S-3", "name", "", ""): "ok",
    }


async def test_a_number_that_a_float_cannot_hold_exactly_is_refused_not_rounded(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    await small_catalog(db, tenant, tmp_path)
    file = tmp_path / "products.csv"
    file.write_text("sku;optical_zoom\nZ-1;12345678901234567.891\nZ-2;0.1\nZ-3;12345678901234567\nZ-4;2.50\n")
    report = await Importer(db).products(tenant.code, file)
    assert (report.imported, report.rejected) == (3, 1)
    [reason] = report.rejections[0].reasons
    assert reason.startswith(
        "optical_zoom: optical_zoom (NUMBER): 12345678901234567.891 would be stored as 12345678901234568"
    )
    assert "a NUMBER keeps about 15 significant digits" in reason and "PRICE or METRIC" in reason
    stored = await stored_values(db, tenant)
    assert stored == {
        ("Z-2", "optical_zoom", "", ""): 0.1,
        ("Z-3", "optical_zoom", "", ""): 12345678901234567,
        ("Z-4", "optical_zoom", "", ""): 2.5,
    }
    lines = ['{"sku": "Z-5", "values": [{"attribute": "optical_zoom", "data": 12345678901234567.891}]}']
    report = await Importer(db).products(tenant.code, jsonl(tmp_path / "products.jsonl", *lines))
    assert report.rejected == 1 and "would be stored as" in report.rejections[0].reasons[0]


async def test_an_unclosed_quote_is_reported_with_the_lines_it_swallowed(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """The rest of the file went into one cell: the report said 1 rejected and nothing of the 48 rows after it."""
    await small_catalog(db, tenant, tmp_path)
    rows = [f"UQ-{n};after{n}" for n in range(50)]
    rows[1] = 'UQ-1;"unclosed'
    file = tmp_path / "products.csv"
    file.write_text("sku;name\n" + "\n".join(rows) + "\n")
    report = await Importer(db).products(tenant.code, file)
    assert (report.imported, report.rejected) == (1, 1)
    message = "a quote opened on line 3 is never closed: the 48 lines after it went into its cell and were not imported"
    assert [(r.line, r.reasons) for r in report.rejections] == [(3, [message])]
    assert report.unread == message


async def test_a_quote_closed_lines_later_names_the_lines_it_took(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    await small_catalog(db, tenant, tmp_path)
    file = tmp_path / "products.csv"
    file.write_text('sku;name\nQ-1;"open\nQ-2;x\nQ-3;"quoted";\nQ-4;fine\n')
    report = await Importer(db).products(tenant.code, file)
    assert (report.imported, report.unread) == (1, None)
    [reasons] = [r.reasons for r in report.rejections if r.line == 2]
    assert reasons[0].endswith("(lines 2 to 4 were read as this one row: is a quote on line 2 left open?)")


async def test_a_cell_larger_than_csvs_default_limit_imports_and_one_over_a_values_limit_says_so(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    await small_catalog(db, tenant, tmp_path)
    file = tmp_path / "products.csv"
    file.write_text(f"sku;name\nBIG-1;{'x' * 200_000}\nBIG-2;{'y' * (MAX_TEXT_LENGTH + 1)}\nBIG-3;small\n")
    report = await Importer(db).products(tenant.code, file)
    assert (report.imported, report.rejected) == (2, 1)
    assert report.rejections[0].reasons == ["a cell is over 1,048,576 characters, the most a value holds"]
    assert len((await stored_values(db, tenant))[("BIG-1", "name", "", "")]) == 200_000


async def test_a_cell_over_a_values_limit_says_so_whatever_limit_the_process_had_set(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """The csv module's limit is the process's: the importer only raised it, so after anything else in the process
    had set a larger one the cell was read whole and refused by the value's own check, in other words."""
    await small_catalog(db, tenant, tmp_path)
    file = tmp_path / "products.csv"
    file.write_text(f"sku;name\nBIG-2;{'y' * (MAX_TEXT_LENGTH + 1)}\n")
    previous = csv.field_size_limit(2**31 - 1)
    try:
        report = await Importer(db).products(tenant.code, file)
    finally:
        csv.field_size_limit(previous)
    assert report.rejections[0].reasons == ["a cell is over 1,048,576 characters, the most a value holds"]


async def test_an_unknown_key_or_a_value_without_data_refuses_the_line_instead_of_clearing(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    await small_catalog(db, tenant, tmp_path)
    original = {"sku": "J-1", "values": [{"attribute": "name", "data": "Original"}]}
    await Importer(db).products(tenant.code, jsonl(tmp_path / "first.jsonl", original))
    lines = [
        {"sku": "J-1", "values": [{"attribute": "name", "value": "Typo key"}]},
        {"sku": "J-1", "valeus": [{"attribute": "name", "data": "Ignored"}]},
        {"sku": "J-2", "values": [{"attribute": "name", "data": None}]},
    ]
    report = await Importer(db).products(tenant.code, jsonl(tmp_path / "products.jsonl", *lines))
    assert (report.imported, report.rejected) == (1, 2)
    assert [(r.line, r.reasons) for r in report.rejections] == [
        (
            1,
            [
                "values[0]: unknown key 'value' (a value has attribute, locale, scope, data)",
                'values[0]: no "data": give the value, or null to clear it',
            ],
        ),
        (2, ["unknown key 'valeus' (a product has sku, enabled, family, parent, values)"]),
    ]
    assert await stored_values(db, tenant) == {("J-1", "name", "", ""): "Original"}


async def test_scopable_must_be_a_boolean_or_left_out(db: Database, tenant: TenantHandle, tmp_path: Path) -> None:
    await enable(db, tenant, ["en_US"], ["ecommerce"], ["EUR"])
    lines = [
        {"code": "quoted", "type": "TEXT", "localizable": False, "scopable": "false"},
        {"code": "zero", "type": "TEXT", "localizable": False, "scopable": 0},
        {"code": "left_out", "type": "TEXT", "localizable": False},
        {"code": "said", "type": "TEXT", "localizable": False, "scopable": True},
        {"code": "typo", "type": "TEXT", "localizable": False, "scopabel": True},
    ]
    report = await Importer(db).attributes(tenant.code, jsonl(tmp_path / "attributes.jsonl", *lines))
    assert (report.imported, report.rejected) == (2, 3)
    assert [(r.line, r.reasons) for r in report.rejections] == [
        (1, ["scopable must be true or false (or left out)"]),
        (2, ["scopable must be true or false (or left out)"]),
        (5, ["unknown key 'scopabel' (an attribute has code, type, localizable, scopable, labels)"]),
    ]
    async with db.reader() as session:
        spec = await CatalogSetupService(session).spec(tenant.id)
    assert {code: spec.attributes[code].scopable for code in spec.attributes} == {"left_out": False, "said": True}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("products.json", '[\n  {"sku": "A-1"},\n  {"sku": "A-2"}\n]\n', "a JSON document, not JSON Lines"),
        ("products.json", '{\n  "sku": "A-1",\n  "values": []\n}\n', "a JSON document, not JSON Lines"),
        ("products.csv", "sku,name\nA-1,Shirt\n", "the file must be ;-separated"),
        ("products.csv", "sku;name;name\nDUP-1;first;second\n", "the header names column 'name' twice"),
        ("products.csv", "name\nShirt\n", "the header has no sku column"),
    ],
)
async def test_a_file_of_another_shape_is_refused_whole_with_what_it_is(
    db: Database, tenant: TenantHandle, tmp_path: Path, name: str, text: str, message: str
) -> None:
    await small_catalog(db, tenant, tmp_path)
    file = tmp_path / name
    file.write_text(text)
    with pytest.raises(UnsupportedFile, match=re.escape(message)):
        await Importer(db).products(tenant.code, file)
    assert await stored_values(db, tenant) == {}


async def test_a_broken_first_line_of_json_lines_is_one_rejection(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    await small_catalog(db, tenant, tmp_path)
    file = jsonl(tmp_path / "products.json", '{"sku": "A-1", ', {"sku": "A-2", "values": []})
    report = await Importer(db).products(tenant.code, file)
    assert (report.imported, report.rejected) == (1, 1)


async def test_akeneo_product_models_are_refused_as_not_supported(db: Database, tenant: TenantHandle) -> None:
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    await Importer(db).attributes(tenant.code, AKENEO / "attributes.csv")
    with pytest.raises(UnsupportedFile, match=r"product_models\.csv .*product models are not supported"):
        await Importer(db).products(tenant.code, AKENEO / "product_models.csv")


async def test_reimporting_the_same_attributes_counts_them_unchanged_and_leaves_them_untouched(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """Every attribute was reported changed (and stamped updated) on a re-import of the same file."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    importer = Importer(db)
    first = await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    assert (first.imported, first.changed) == (77, 77)
    before = await _attribute_stamps(db, tenant)
    again = await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    assert (again.imported, again.changed, again.rejected) == (77, 0, 0)
    assert await _attribute_stamps(db, tenant) == before
    relabelled = {"code": "name", "type": "TEXT", "localizable": False, "labels": {"en_US": "Product name"}}
    same = {"code": "ean", "type": "TEXT", "localizable": False}
    report = await importer.attributes(tenant.code, jsonl(tmp_path / "attributes.jsonl", relabelled, same))
    assert (report.imported, report.changed) == (2, 1)


async def test_an_attribute_row_refused_by_the_catalog_leaves_the_other_rows_of_its_batch_written(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """A row only the catalog can refuse (a type change of an attribute products use) fails its batch's write: the
    other rows of that batch are written again without it, each counted, not dropped along with it unreported."""
    await enable(db, tenant, ["en_US"], ["ecommerce"], ["EUR"])
    importer = Importer(db)
    name = {"code": "name", "type": "TEXT", "localizable": False}
    assert (await importer.attributes(tenant.code, jsonl(tmp_path / "first.jsonl", name))).imported == 1
    product = {"sku": "A-1", "values": [{"attribute": "name", "data": "Shirt"}]}
    assert (await importer.products(tenant.code, jsonl(tmp_path / "products.jsonl", product))).imported == 1
    colour = {"code": "colour", "type": "TEXT", "localizable": False}
    retyped = {"code": "name", "type": "NUMBER", "localizable": False}
    size = {"code": "size", "type": "TEXT", "localizable": False}
    report = await importer.attributes(tenant.code, jsonl(tmp_path / "again.jsonl", colour, retyped, size))
    assert (report.imported, report.rejected) == (2, 1)
    assert report.rejections[0].line == 2 and "already has product values" in report.rejections[0].reasons[0]
    assert set(await _attribute_stamps(db, tenant)) == {"name", "colour", "size"}


async def _attribute_stamps(db: Database, tenant: TenantHandle) -> dict[str, Any]:
    async with db.reader() as session:
        found = await session.execute(
            text("SELECT code, updated_at FROM attributes WHERE tenant_id = :tenant"), {"tenant": tenant.id}
        )
        return {row[0]: row[1] for row in found}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("products.csv", "no code or type column: this is not Akeneo's attributes.csv"),
        ("families.csv", "no type column: this is not Akeneo's attributes.csv"),
        ("attribute_options.csv", "no type column: this is not Akeneo's attributes.csv"),
    ],
)
async def test_another_akeneo_file_imported_as_attributes_is_refused_whole(
    db: Database, tenant: TenantHandle, name: str, message: str
) -> None:
    """products.csv given as attributes was read row by row: 1,239 rejections, each 'unsupported attribute type'."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    with pytest.raises(UnsupportedFile, match=re.escape(message)) as caught:
        await Importer(db).attributes(tenant.code, AKENEO / name)
    assert ("`pimsync import products`" in str(caught.value)) is (name == "products.csv")
    assert await _attribute_stamps(db, tenant) == {}


async def test_an_enabled_cell_other_than_1_or_0_is_read_or_refused_never_taken_as_disabled(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """Real rows of the demo catalog whose `enabled` a spreadsheet rewrote: anything but 1 or true disabled them."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    importer = Importer(db)
    await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    with (AKENEO / "products.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        rows = [next(reader) for _ in range(4)]
        header = list(reader.fieldnames or [])
    for row, enabled in zip(rows, ["TRUE", "yes", "0", "False"], strict=True):
        row["enabled"] = enabled
    file = tmp_path / "products.csv"
    with file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    report = await importer.products(tenant.code, file)
    assert (report.imported, report.rejected) == (3, 1)
    assert [(r.line, r.reasons) for r in report.rejections] == [
        (3, ["enabled: enabled must be true or false (CAT-004)"])
    ]
    async with db.reader() as session:
        stored = await ProductRepository(session).by_skus(tenant.id, [row["sku"] for row in rows])
    assert {sku: product.enabled for sku, product in stored.items()} == {
        rows[0]["sku"]: True,
        rows[2]["sku"]: False,
        rows[3]["sku"]: False,
    }


async def test_an_attribute_flag_other_than_1_or_0_is_read_or_refused_never_taken_as_false(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """The demo attributes.csv with flags a spreadsheet rewrote: TRUE made description silently not localizable."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    with (AKENEO / "attributes.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        rows = list(reader)
        header = list(reader.fieldnames or [])
    flags = {"description": ("TRUE", "True"), "name": ("0", "false"), "ean": ("yes", "0")}
    for row in rows:
        if row["code"] in flags:
            row["localizable"], row["scopable"] = flags[row["code"]]
    file = tmp_path / "attributes.csv"
    with file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header, delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    report = await Importer(db).attributes(tenant.code, file)
    assert (report.imported, report.rejected) == (76, 1)
    assert [(r.line, r.reasons) for r in report.rejections] == [(76, ["localizable must be true or false"])]
    async with db.reader() as session:
        spec = await CatalogSetupService(session).spec(tenant.id)
    shapes = {
        code: (spec.attributes[code].localizable, spec.attributes[code].scopable)
        for code in flags
        if code in spec.attributes
    }
    assert shapes == {"description": (True, True), "name": (False, False)}


def real_rows(*columns: str, count: int) -> list[dict[str, str]]:
    """The first `count` rows of Akeneo's products.csv with every one of `columns` filled, just those columns."""
    with (AKENEO / "products.csv").open(newline="", encoding="utf-8") as handle:
        rows = (row for row in csv.DictReader(handle, delimiter=";") if all(row[column] for column in columns))
        return [{column: row[column] for column in columns} for _, row in zip(range(count), rows, strict=False)]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)
    return path


async def stored_prices(db: Database, tenant: TenantHandle) -> dict[str, Any]:
    return {sku: data for (sku, code, _, _), data in (await stored_values(db, tenant)).items() if code == "price"}


async def test_a_products_csv_with_only_price_eur_keeps_the_stored_usd_amount(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """Akeneo's own import wipes the currencies a file has no column for (its users report that as a bug);
    a catalog team re-pricing one currency expects the others to stay as they are."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    importer = Importer(db)
    await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    rows = real_rows("sku", "price-EUR", "price-USD", count=3)
    await importer.products(tenant.code, write_csv(tmp_path / "both.csv", rows))
    repriced = [{"sku": row["sku"], "price-EUR": "99.90"} for row in rows]
    report = await importer.products(tenant.code, write_csv(tmp_path / "eur.csv", repriced))
    assert (report.imported, report.changed, report.rejected) == (3, 3, 0)
    assert await stored_prices(db, tenant) == {row["sku"]: {"EUR": "99.90", "USD": row["price-USD"]} for row in rows}
    again = await importer.products(tenant.code, tmp_path / "eur.csv")
    assert (again.imported, again.changed) == (3, 0)


async def test_an_empty_price_cell_clears_just_its_currency_and_all_empty_clears_the_price(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """As any empty cell clears its value (and as Akeneo, which drops an empty currency cell from the price)."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    importer = Importer(db)
    await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    first, second = real_rows("sku", "price-EUR", "price-USD", count=2)
    await importer.products(tenant.code, write_csv(tmp_path / "both.csv", [first, second]))
    emptied = [{**first, "price-USD": ""}, {**second, "price-EUR": "", "price-USD": ""}]
    report = await importer.products(tenant.code, write_csv(tmp_path / "emptied.csv", emptied))
    assert (report.imported, report.changed, report.rejected) == (2, 2, 0)
    assert await stored_prices(db, tenant) == {first["sku"]: {"EUR": first["price-EUR"]}}


async def test_a_multi_line_cell_keeps_a_no_break_mark_that_begins_one_of_its_lines(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """Only the mark that opens the file is a byte-order mark: Icecat's text of product 13603495 holds U+FEFF
    before "Screwed Remote Battery Cover", which began a line of its cell here and was dropped."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    importer = Importer(db)
    await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    [row] = [row for row in real_rows("sku", "description-en_US-print", count=1239) if row["sku"] == "13603495"]
    text = row["description-en_US-print"].replace("\\n- ", "\n")
    assert "\n\ufeffScrewed Remote Battery Cover" in text
    path = tmp_path / "products.csv"
    path.write_bytes(codecs.BOM_UTF8 + write_csv(path, [{**row, "description-en_US-print": text}]).read_bytes())
    report = await importer.products(tenant.code, path)
    assert (report.imported, report.rejected) == (1, 0), report.rejections
    assert await stored_values(db, tenant) == {("13603495", "description", "en_US", "print"): text}


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
async def test_a_sku_on_two_rows_is_one_product_counted_once_with_the_later_row_applied_over_the_earlier(
    db: Database, tenant: TenantHandle, tmp_path: Path, kind: str
) -> None:
    """ "Imported 2 products" for a file of the same SKU on two rows, when one product resulted."""
    await small_catalog(db, tenant, tmp_path)
    rows = [("DUP-1", "First"), ("OTHER", "Other"), ("DUP-1", "Second")]
    if kind == "csv":
        file = tmp_path / "products.csv"
        file.write_text("sku;name\n" + "".join(f"{sku};{name}\n" for sku, name in rows), encoding="utf-8")
    else:
        lines = [{"sku": sku, "values": [{"attribute": "name", "data": name}]} for sku, name in rows]
        file = jsonl(tmp_path / "products.jsonl", *lines)
    report = await Importer(db).products(tenant.code, file)
    assert (report.imported, report.changed, report.rejected, report.repeated) == (2, 2, 0, 1)
    first_line = 2 if kind == "csv" else 1
    assert [(r.line, r.key, r.first_line) for r in report.repeats] == [(first_line + 2, "DUP-1", first_line)]
    assert await stored_values(db, tenant) == {("DUP-1", "name", "", ""): "Second", ("OTHER", "name", "", ""): "Other"}


async def test_a_repeated_sku_changing_a_product_an_earlier_row_left_unchanged_counts_it_changed_once(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    await small_catalog(db, tenant, tmp_path)
    importer = Importer(db)
    await importer.products(tenant.code, jsonl(tmp_path / "first.jsonl", {"sku": "P", "values": []}))
    again = jsonl(tmp_path / "again.jsonl", {"sku": "P", "values": []}, {"sku": "P", "enabled": False, "values": []})
    report = await importer.products(tenant.code, again)
    assert (report.imported, report.changed, report.repeated) == (1, 1, 1)


async def test_an_attribute_code_on_two_rows_is_one_attribute_with_the_later_row_applied(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """The later row was refused as "listed twice" within a batch of 500, and counted again past one."""
    file = jsonl(
        tmp_path / "attributes.jsonl",
        {"code": "name", "type": "TEXT", "localizable": False},
        {"code": "name", "type": "TEXT", "localizable": False, "labels": {"en_US": "Name"}},
    )
    await enable(db, tenant, ["en_US"], ["ecommerce"], ["EUR"])
    report = await Importer(db).attributes(tenant.code, file)
    assert (report.imported, report.changed, report.rejected, report.repeated) == (1, 1, 0, 1)
    assert [(r.line, r.key, r.first_line) for r in report.repeats] == [(2, "name", 1)]
    async with db.reader() as session:
        [attribute] = await AttributeRepository(session).list(tenant.id)
    assert attribute.labels == {"en_US": "Name"}


async def test_an_akeneo_textarea_has_its_escaped_line_breaks_decoded_and_every_other_backslash_kept(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """Akeneo's print descriptions write a line break as the two characters \\n: they were stored so, and a shop
    showed "\\n" in the text. Only a TEXTAREA's cells are multi-line text; a backslash anywhere else survives."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    importer = Importer(db)
    await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    [text] = [row for row in real_rows("sku", "power_requirements", count=1239) if "\\n" in row["power_requirements"]]
    [textarea, *_] = [row for row in real_rows("sku", "description-en_US-print", count=50) if "\\n" in str(row)]
    escaped = {"sku": "ESC-1", "description-en_US-print": r"one\ntwo; C:\temp; \\n kept"}
    rows = [{"power_requirements": "", "description-en_US-print": "", **row} for row in (text, textarea, escaped)]
    report = await importer.products(tenant.code, write_csv(tmp_path / "products.csv", rows))
    assert (report.imported, report.rejected) == (3, 0), report.rejections
    stored = await stored_values(db, tenant)
    description = stored[(textarea["sku"], "description", "en_US", "print")]
    assert description == lines(textarea["description-en_US-print"]) and "\\n" not in description
    assert stored[(text["sku"], "power_requirements", "", "")] == text["power_requirements"]
    assert stored[("ESC-1", "description", "en_US", "print")] == "one\ntwo; C:\\temp; \\\\n kept"


@pytest.mark.parametrize("cell", ["Infinity", "-Infinity", "NaN", "sNaN", "1e999999999", "-1E999999999"])
async def test_a_number_cell_that_no_number_can_hold_refuses_its_row_alone(
    db: Database, tenant: TenantHandle, tmp_path: Path, cell: str
) -> None:
    """Infinity crashed the import with an OverflowError; 1e999999999 hung it writing out a billion digits."""
    await small_catalog(db, tenant, tmp_path)
    file = tmp_path / "products.csv"
    file.write_text(f"sku;optical_zoom\nT-0;3\nT-1;{cell}\nT-2;4\n", encoding="utf-8")
    report = await Importer(db).products(tenant.code, file)
    assert (report.imported, report.rejected) == (2, 1)
    [rejection] = report.rejections
    assert rejection.line == 3 and rejection.reasons[0].startswith("optical_zoom: optical_zoom (NUMBER): ")
    assert await stored_values(db, tenant) == {("T-0", "optical_zoom", "", ""): 3, ("T-2", "optical_zoom", "", ""): 4}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("1e999999999", "values[0]: optical_zoom (NUMBER): a whole number this large cannot be stored"),
        ("9" * 5000, "values[0]: optical_zoom (NUMBER): a whole number this large cannot be stored"),
        ("[" * 100_000 + "]" * 100_000, "nested more than"),
    ],
)
async def test_a_json_line_that_python_cannot_read_as_given_refuses_that_line_alone(
    db: Database, tenant: TenantHandle, tmp_path: Path, data: str, reason: str
) -> None:
    """A 5,000-digit number stopped the import with Python's int conversion limit (exit 1, earlier batches
    kept, later ones never read), deep nesting with a RecursionError, and 1e999999999 hung it."""
    await small_catalog(db, tenant, tmp_path)
    line = '{"sku": "T-1", "values": [{"attribute": "optical_zoom", "data": ' + data + "}]}"
    good, after = ({"sku": sku, "values": [{"attribute": "optical_zoom", "data": 2}]} for sku in ("T-0", "T-2"))
    report = await Importer(db).products(tenant.code, jsonl(tmp_path / "products.jsonl", line, good, after))
    assert (report.imported, report.rejected) == (2, 1)
    [rejection] = report.rejections
    assert rejection.line == 1 and reason in rejection.reasons[0], rejection.reasons
    assert set(await stored_values(db, tenant)) == {("T-0", "optical_zoom", "", ""), ("T-2", "optical_zoom", "", "")}


async def test_a_products_csv_ending_its_lines_with_a_separator_imports_naming_the_unnamed_column_skipped(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """A spreadsheet's trailing `;` makes a column with no name: the file was refused as "columns that match no
    attribute of the catalog: " followed by nothing, and two such columns as naming column '' twice."""
    await small_catalog(db, tenant, tmp_path)
    file = tmp_path / "products.csv"
    file.write_text("sku;name;;\nT-1;Shirt;;\n", encoding="utf-8")
    report = await Importer(db).products(tenant.code, file)
    assert (report.imported, report.rejected) == (1, 0)
    assert report.skipped_columns == {"column 3": "it has no name", "column 4": "it has no name"}
    assert await stored_values(db, tenant) == {("T-1", "name", "", ""): "Shirt"}


async def test_an_empty_family_or_parent_cell_clears_it_as_any_empty_cell_clears_its_value(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """A variant detached from its model in Akeneo, exported again with an empty parent cell, kept its parent
    here; a file without the column still leaves it as it is. Unknown codes are kept as given: the catalog has
    no families or product models to look them up in (product_models.csv is refused), they are labels."""
    await small_catalog(db, tenant, tmp_path)
    importer = Importer(db)

    async def header() -> tuple[str | None, str | None]:
        async with db.reader() as session:
            product = await ProductRepository(session).live_by_sku(tenant.id, "V-1")
        assert product is not None
        return product.family, product.parent

    first = tmp_path / "first.csv"
    first.write_text("sku;family;parent;name\nV-1;no_such_family;no_such_model;Shirt\n", encoding="utf-8")
    assert (await importer.products(tenant.code, first)).imported == 1
    assert await header() == ("no_such_family", "no_such_model")
    without = tmp_path / "without.csv"
    without.write_text("sku;name\nV-1;Shirt\n", encoding="utf-8")
    assert (await importer.products(tenant.code, without)).changed == 0
    assert await header() == ("no_such_family", "no_such_model")
    emptied = tmp_path / "emptied.csv"
    emptied.write_text("sku;family;parent;name\nV-1;;;Shirt\n", encoding="utf-8")
    report = await importer.products(tenant.code, emptied)
    assert (report.imported, report.changed, report.rejected) == (1, 1, 0)
    assert await header() == (None, None)


async def test_a_metric_row_with_its_amount_or_its_unit_alone_is_refused_saying_which_is_missing(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """Both were refused as 'expected {"amount": ..., "unit": ...}', JSON a catalog manager editing columns never
    wrote."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    importer = Importer(db)
    await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    file = tmp_path / "products.csv"
    file.write_text("sku;weight;weight-unit\nW-1;;KILOGRAM\nW-2;5;\nW-3;5;KILOGRAM\n", encoding="utf-8")
    report = await importer.products(tenant.code, file)
    assert (report.imported, report.rejected) == (1, 2)
    assert [(r.line, r.reasons) for r in report.rejections] == [
        (2, ["weight: weight (METRIC): a metric needs an amount beside its unit (CAT-004)"]),
        (3, ["weight: weight (METRIC): a metric needs a unit beside its amount, e.g. KILOGRAM (CAT-004)"]),
    ]


async def test_a_products_csv_saved_with_windows_line_ends_stores_a_textareas_line_breaks_as_any_other_file(
    db: Database, tenant: TenantHandle, tmp_path: Path
) -> None:
    """Saved with CRLF line ends, a quoted multi-line description was stored with \\r\\n: the same export saved
    with LF then changed every such product, and each went to the channels again."""
    await enable(db, tenant, ["en_US", "de_DE", "fr_FR"], ["ecommerce", "mobile", "print"], ["EUR", "USD"])
    importer = Importer(db)
    await importer.attributes(tenant.code, AKENEO / "attributes.csv")
    [row, *_] = [
        r
        for r in real_rows("sku", "description-en_US-ecommerce", count=1239)
        if "\n" in r["description-en_US-ecommerce"]
    ]
    unix = write_csv(tmp_path / "unix.csv", [row])
    windows = tmp_path / "windows.csv"
    windows.write_bytes(unix.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert (await importer.products(tenant.code, windows)).imported == 1
    assert await stored_values(db, tenant) == {
        (row["sku"], "description", "en_US", "ecommerce"): row["description-en_US-ecommerce"]
    }
    again = await importer.products(tenant.code, unix)
    assert (again.imported, again.changed) == (1, 0)
