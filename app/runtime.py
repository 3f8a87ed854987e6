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

    The collection thresholds stay Python's. Raising the youngest one (to
    50,000) saved about 5% of an export's CPU but let cyclic garbage wait:
    each httpx response is a cycle (response and stream) holding its body,
    and a 100,000-product export peaked 1.3 times as high as a 10,000 one
    (`bench/sync_bench.py`, part 4) instead of level.
    """
    gc.collect()
    gc.freeze()
