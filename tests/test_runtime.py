"""The worker's heap settings: start-up objects out of the collector's reach, young collections rarer."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app.runtime import YOUNG_COLLECTION_EVERY, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def young_collections_while_allocating(count: int) -> int:
    """Collections of the youngest generation while `count` container objects are allocated and kept."""
    seen: list[int] = []

    def count_young(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 0:
            seen.append(1)

    gc.callbacks.append(count_young)
    try:
        kept = [[index] for index in range(count)]
    finally:
        gc.callbacks.remove(count_young)
    assert len(kept) == count
    return len(seen)


@pytest.mark.usefixtures("restored_gc")
def test_a_settled_heap_collects_the_young_generation_far_less_often() -> None:
    allocations = YOUNG_COLLECTION_EVERY // 2
    gc.collect()
    assert young_collections_while_allocating(allocations) > 10
    settle_heap()
    assert young_collections_while_allocating(allocations) == 0
    assert gc.get_freeze_count() > 0
