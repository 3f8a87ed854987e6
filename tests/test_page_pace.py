"""A chunk's pages are sized so that one takes about a quarter of a run's time, whatever the channel's pace."""

from __future__ import annotations

from app.domain.sync import PagePace


def test_pages_grow_from_one_batch_while_they_stay_quick() -> None:
    pace = PagePace(limit=1, most=50, target=60.0)
    sizes = []
    for _ in range(7):
        sizes.append(pace.limit)
        pace.sent(pace.limit, 0.5 * pace.limit)  # half a second a product: 120 would fit the target
    assert sizes == [1, 2, 4, 8, 16, 32, 50], "doubling, never past the configured page size"


def test_a_slow_page_shrinks_the_next_to_what_fits_and_never_below_one_product() -> None:
    pace = PagePace(limit=40, most=100, target=60.0)
    pace.sent(40, 240.0)  # six seconds a product (a shared, slow rate)
    assert pace.limit == 10
    pace.sent(10, 600.0)  # a minute a product: one product a page still makes progress
    assert pace.limit == 1


def test_a_page_with_nothing_to_send_is_no_measure_of_the_channel() -> None:
    pace = PagePace(limit=4, most=100, target=60.0)
    pace.sent(0, 0.0)
    assert pace.limit == 8


def test_a_page_still_being_sent_past_the_target_shrinks_the_next_before_it_ends() -> None:
    """What a run cut off in the middle of its page leaves its retry: at most what would have fitted had the page
    ended now, smaller the longer it goes on."""
    pace = PagePace(limit=100, most=100, target=60.0)
    pace.sending(100, 120.0)
    assert pace.limit == 50
    pace.sending(100, 540.0)  # arq's 600 s are near
    assert pace.limit == 11
    pace.sending(100, 6000.0)
    assert pace.limit == 1, "one product a page still makes progress"


def test_a_page_in_flight_teaches_nothing_before_the_target_and_never_grows_the_next() -> None:
    pace = PagePace(limit=20, most=100, target=60.0)
    pace.sending(20, 30.0)
    assert pace.limit == 20, "a page under the target is no measure of the channel until it ends"
    pace.sending(100, 61.0)  # a page loaded before the limit fell: 98 would fit, but the limit only falls
    assert pace.limit == 20


def test_a_page_that_ends_after_it_was_learned_from_in_flight_settles_where_it_would_have_anyway() -> None:
    watched, unwatched = PagePace(limit=40, most=100, target=60.0), PagePace(limit=40, most=100, target=60.0)
    for elapsed in (60.5, 120.0, 180.0):
        watched.sending(40, elapsed)
    watched.sent(40, 200.0)
    unwatched.sent(40, 200.0)
    assert watched.limit == unwatched.limit == 12


def test_the_edges_of_what_a_page_teaches() -> None:
    """A page that sent nothing, or took no time, only lets the next grow; one product a page is the floor; a page
    that ends says whether the limit changed (worth keeping for the connector's next run)."""
    pace = PagePace(limit=10, most=100, target=60.0)
    assert pace.sent(0, 5.0) is True and pace.limit == 20
    assert pace.sent(5, 0.0) is True and pace.limit == 40
    assert pace.sent(1, 120.0) is True and pace.limit == 1  # two minutes for one product: none would fit
    assert pace.sent(1, 120.0) is False and pace.limit == 1
    quick = PagePace(limit=10, most=100, target=0.1)
    assert quick.sent(10, 0.5) is True and quick.limit == 2  # under a second, and still five times the target


def test_the_edges_of_what_a_page_in_flight_teaches() -> None:
    pace = PagePace(limit=100, most=100, target=60.0)
    assert pace.sending(0, 120.0) is False and pace.limit == 100
    assert pace.sending(20, 60.0) is False and pace.limit == 100, "at the target exactly, nothing is learned yet"
    assert pace.sending(1, 120.0) is True and pace.limit == 1
    assert pace.sending(1, 120.0) is False
