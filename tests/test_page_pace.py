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
