"""What of a product a sync sends again (pure: app.domain.sync, DESIGN.md export pipeline steps 3 and 6).

A product's export is split in parts, '' for the shared fields and one per channel locale, and each is hashed:
a part whose hash equals the one the channel last accepted is not sent again (unless forceResync, or the
product is being created), so a one-word change in French sends the French part only. A problem in the shared
fields fails the product; one in a locale fails that locale; a broken mapping only drops its own field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.channels.base import RemoteProduct
from app.domain.errors import ErrorCode, UserErrorItem
from app.domain.export_plan import Built, ProductExport
from app.domain.sync import (
    CodeTally,
    Outgoing,
    SyncJobStatus,
    blames_the_channel,
    every_product_failed,
    every_product_failed_reason,
    field_changes,
    merged_snapshot,
    outgoing,
    part_hash,
    progress,
    remote_document,
)

SHARED = {"price": "49.90", "vendor": "Mexx"}
EN = {"title": "Leather bag", "description": "<p>Soft leather</p>"}
FR = {"title": "Sac en cuir", "description": "<p>Cuir souple</p>"}
AR = {"title": "حقيبة جلدية"}


def export(
    shared: dict[str, Any] = SHARED,
    fr: dict[str, Any] = FR,
    *,
    shared_problems: list[UserErrorItem] | None = None,
    fr_problems: list[UserErrorItem] | None = None,
    ar_sends: bool = True,
) -> ProductExport:
    return ProductExport(
        "BAG-1",
        Built(None, None, dict(shared), problems=shared_problems or []),
        [
            Built("en_US", "en", dict(EN)),
            Built("fr_FR", "fr", dict(fr), problems=fr_problems or []),
            Built("ar_AE", "ar", dict(AR), will_send=ar_sends),
        ],
    )


ACCEPTED = {"": part_hash(SHARED), "en": part_hash(EN), "fr": part_hash(FR), "ar": part_hash(AR)}
"""The hashes of every part as the channel last accepted them."""


def sent(result: Outgoing) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]], list[str]]:
    return result.shared, result.locales, sorted(result.hashes)


def test_a_part_hash_ignores_key_order_and_tells_every_value_apart() -> None:
    assert part_hash({"a": 1, "b": "x"}) == part_hash({"b": "x", "a": 1})
    assert part_hash({"price": Decimal("49.90")}) == part_hash({"price": "49.90"})  # amounts hash as sent
    different = [{}, {"a": 1}, {"a": 2}, {"a": "1"}, {"a": None}, {"b": 1}, {"price": Decimal("49.9")}]
    assert len({part_hash(fields) for fields in [*different, {"price": Decimal("49.90")}]}) == len(different) + 1


def test_an_unchanged_product_sends_nothing() -> None:
    result = outgoing(export(), ACCEPTED, force=False, creating=False)
    assert sent(result) == (None, {}, []) and result.empty
    assert (result.errors, result.held, result.failed_whole) == ([], [], False)


def test_a_one_word_change_in_french_sends_the_french_part_only() -> None:
    retitled = {**FR, "title": "Sac en cuir noir"}
    result = outgoing(export(fr=retitled), ACCEPTED, force=False, creating=False)
    assert sent(result) == (None, {"fr": retitled}, ["fr"])
    assert result.hashes == {"fr": part_hash(retitled)} and not result.empty


def test_a_changed_shared_field_sends_the_shared_part_only() -> None:
    repriced = {**SHARED, "price": "44.90"}
    result = outgoing(export(shared=repriced), ACCEPTED, force=False, creating=False)
    assert sent(result) == (repriced, {}, [""])
    assert not result.empty


@pytest.mark.parametrize(("force", "creating"), [(True, False), (False, True)])
def test_force_and_a_product_being_created_send_every_part(force: bool, creating: bool) -> None:
    result = outgoing(export(), ACCEPTED, force=force, creating=creating)
    assert sent(result) == (SHARED, {"en": EN, "fr": FR, "ar": AR}, ["", "ar", "en", "fr"])
    assert result.hashes == ACCEPTED


def test_a_product_never_sent_sends_every_part() -> None:
    assert sent(outgoing(export(), {}, force=False, creating=False))[2] == ["", "ar", "en", "fr"]


def test_a_held_locale_stays_back_whatever_its_hash() -> None:
    result = outgoing(export(ar_sends=False), {}, force=True, creating=False)
    assert result.held == ["ar"] and "ar" not in result.locales and "ar" not in result.hashes


MISSING_TITLE = UserErrorItem(
    ("title",), "title is required and has no value in fr_FR", ErrorCode.MISSING_REQUIRED_FIELD
)
BROKEN = UserErrorItem(("vendor",), "brand was deleted", ErrorCode.MAPPING_BROKEN)
NO_PRICE = UserErrorItem(("price",), "no price in EUR", ErrorCode.CURRENCY_NOT_SUPPORTED)


def test_a_problem_in_a_locale_fails_that_locale_and_the_rest_goes_out() -> None:
    result = outgoing(export(fr_problems=[MISSING_TITLE]), {}, force=False, creating=False)
    assert sent(result) == (SHARED, {"en": EN, "ar": AR}, ["", "ar", "en"])
    assert result.errors == [("fr", MISSING_TITLE)] and not result.failed_whole


def test_a_problem_in_the_shared_fields_fails_the_whole_product() -> None:
    result = outgoing(export(shared_problems=[BROKEN, NO_PRICE]), {}, force=True, creating=True)
    assert result.failed_whole and sent(result) == (None, {}, [])
    assert result.errors == [(None, BROKEN), (None, NO_PRICE)]


def test_a_broken_mapping_is_reported_and_drops_only_its_field() -> None:
    result = outgoing(export(shared_problems=[BROKEN], fr_problems=[BROKEN]), {}, force=False, creating=False)
    assert sent(result) == (SHARED, {"en": EN, "fr": FR, "ar": AR}, ["", "ar", "en", "fr"])
    assert result.errors == [(None, BROKEN), ("fr", BROKEN)] and not result.failed_whole


def test_the_document_an_adapter_sends_holds_the_changed_parts() -> None:
    result = outgoing(export(fr={**FR, "title": "Sac"}), ACCEPTED, force=False, creating=False)
    document = result.document("gid://shopify/Product/1")
    assert (document.sku, document.external_id, dict(document.fields), dict(document.locales)) == (
        "BAG-1",
        "gid://shopify/Product/1",
        {},
        {"fr": {**FR, "title": "Sac"}},
    )


def test_the_changes_of_a_sync_list_each_field_and_locale_with_before_and_after() -> None:
    before = {"fields": {"price": "49.90", "vendor": "Mexx"}, "locales": {"fr": {"title": "Sac en cuir"}}}
    result = Outgoing("BAG-1", {"price": "44.90", "vendor": "Mexx"}, {"fr": {"title": "Sac"}, "ar": AR}, {})
    assert field_changes(before, result) == [
        {"field": "price", "channelLocale": None, "before": "49.90", "after": "44.90"},
        {"field": "title", "channelLocale": "fr", "before": "Sac en cuir", "after": "Sac"},
        {"field": "title", "channelLocale": "ar", "before": None, "after": AR["title"]},
    ]
    assert field_changes({}, Outgoing("BAG-1", None, {}, {})) == []


def test_what_the_channel_holds_after_a_partial_update() -> None:
    previous = {"fields": {"price": "49.90", "vendor": "Mexx"}, "locales": {"fr": {"title": "Sac", "description": "x"}}}
    result = Outgoing("BAG-1", {"price": "44.90"}, {"fr": {"title": "Sac noir"}, "ar": AR}, {})
    assert merged_snapshot(previous, result) == {
        "fields": {"price": "44.90", "vendor": "Mexx"},
        "locales": {"fr": {"title": "Sac noir", "description": "x"}, "ar": AR},
    }
    assert previous["locales"]["fr"]["title"] == "Sac"  # the stored snapshot is left as it was
    assert merged_snapshot({}, Outgoing("BAG-1", None, {}, {})) == {"fields": {}, "locales": {}}


def test_a_remote_product_as_a_snapshot() -> None:
    remote = RemoteProduct("BAG-1", "7", {"price": "49.9"}, {"fr": {"title": "Sac"}}, None)
    assert remote_document(remote) == {"fields": {"price": "49.9"}, "locales": {"fr": {"title": "Sac"}}}
    assert remote_document(None) == {}


@pytest.mark.parametrize(
    ("done", "total", "completed", "share"),
    [
        (0, 0, True, 1.0),
        (3, 10, True, 1.0),
        (0, 0, False, 0.0),
        (3, 4, False, 0.75),
        (1, 1, False, 1.0),
        (5, 4, False, 1.0),
        (1, -1, False, 0.0),
    ],
)
def test_a_jobs_progress(done: int, total: int, completed: bool, share: float) -> None:
    assert progress(done, total, completed=completed) == share


@pytest.mark.parametrize(
    ("counts", "dry_run", "failed"),
    [
        ({"synced": 0, "failed": 3, "skipped": 0, "conflicted": 0}, False, True),
        ({"synced": 0, "failed": 3, "skipped": 0, "conflicted": 0}, True, False),
        ({"synced": 1, "failed": 3, "skipped": 0, "conflicted": 0}, False, False),
        ({"synced": 0, "failed": 3, "skipped": 1, "conflicted": 0}, False, False),
        ({"synced": 0, "failed": 3, "skipped": 0, "conflicted": 1}, False, False),
        ({"synced": 0, "failed": 1, "skipped": 0, "conflicted": 0}, False, True),
        ({"synced": 0, "failed": 0, "skipped": 0, "conflicted": 0}, False, False),
    ],
)
def test_a_job_fails_when_every_product_it_went_through_failed(
    counts: dict[str, int], dry_run: bool, failed: bool
) -> None:
    assert every_product_failed(**counts, dry_run=dry_run) is failed


LONG = "x" * 250


@pytest.mark.parametrize(
    ("products", "tally", "reason"),
    [
        (1, [], "the job's only product failed"),
        (1, [CodeTally("CHN-010", 1, "title is required")], "the job's only product failed: CHN-010 title is required"),
        (4, [], "all 4 products failed"),
        (4, [CodeTally("CHN-011", 4, "bad")], "all 4 products failed; CHN-011 for 4 of them, first: bad"),
        (
            4,
            [CodeTally("CHN-011", 2, "bad"), CodeTally("CHN-010", 1, "a"), CodeTally("CHN-031", 1, "b")],
            "all 4 products failed; CHN-011 for 2 of them (2 other codes too), first: bad",
        ),
        (
            2,
            [CodeTally("CHN-011", 1, LONG), CodeTally("CHN-010", 1, "a")],
            f"all 2 products failed; CHN-011 for 1 of them (1 other code too), first: {'x' * 197}...",
        ),
    ],
)
def test_the_reason_a_job_failed_names_the_most_common_code_and_its_first_message(
    products: int, tally: list[CodeTally], reason: str
) -> None:
    assert every_product_failed_reason(products, tally) == reason


def test_a_message_of_the_reasons_length_is_quoted_whole() -> None:
    exact = "y" * 200
    assert every_product_failed_reason(1, [CodeTally("CHN-010", 1, exact)]).endswith(exact)


@pytest.mark.parametrize(
    ("codes", "blamed"),
    [([], True), (["CHN-010"], False), (["CHN-010", "CHN-011"], False), (["CHN-011", "CHN-021"], True)],
)
def test_only_products_refused_for_their_own_data_do_not_count_against_the_connector(
    codes: list[str], blamed: bool
) -> None:
    assert blames_the_channel([CodeTally(code, 1, "m") for code in codes]) is blamed


def test_a_job_has_finished_once_completed_failed_or_cancelled() -> None:
    finished = {status for status in SyncJobStatus if status.finished}
    assert finished == {SyncJobStatus.COMPLETED, SyncJobStatus.FAILED, SyncJobStatus.CANCELLED}
