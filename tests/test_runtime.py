"""The worker's heap settings: start-up objects out of the collector's reach, collections as often as ever."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app.runtime import settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_a_settled_heap_leaves_start_up_objects_out_of_full_collections() -> None:
    threshold = gc.get_threshold()
    gc.collect()
    before = len(gc.get_objects(generation=2))
    settle_heap()
    after = len(gc.get_objects(generation=2))
    assert before > 10_000 and after < before // 100, (before, after)
    assert gc.get_freeze_count() > before // 2
    assert gc.get_threshold() == threshold, "cyclic garbage (httpx responses and their bodies) must not wait longer"
