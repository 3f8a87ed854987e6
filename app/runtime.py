"""Process-level tuning for long-running processes (the arq worker)."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Put what start-up left alive (modules, classes, the container) beyond the cyclic collector's reach.

    Every full (generation 2) collection walks every tracked object, and a
    worker's imports alone are a few hundred thousand of them: about 120 ms
    with the event loop stopped, every couple of seconds while a sync runs.
    Every request in flight in that process is delayed by it, which spends a
    rate-limited channel's budget (a request the shop should have had 50 ms
    after the last one arrives late, and the time is lost) and bunches
    requests together on the way out. Those objects live as long as the
    process, so collecting them never frees anything; `gc.freeze()` leaves
    them out of every later collection. Call it once, at the end of start-up.

    The youngest generation is collected every `YOUNG_COLLECTION_EVERY`
    allocations instead of every 700: a sync page allocates hundreds of
    thousands of short-lived objects (rows, documents, answers), nearly all
    freed by reference counting, and the default threshold ran a thousand
    collections per 10,000 exported products, about 5% of the worker's CPU.
    Cyclic garbage waits a little longer; the memory it can hold is bounded
    by the threshold, not by the catalog.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)


YOUNG_COLLECTION_EVERY = 50_000
