"""The retry helper: which channel errors are retried, how long it waits, and when it gives up (fake sleep, no I/O)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from app.channels.base import (
    ChannelError,
    ChannelRateLimited,
    ChannelRejected,
    ChannelTimeout,
    ChannelUnavailable,
    CredentialsRejected,
)
from app.channels.retry import MIN_THROTTLE_WAIT, RetryPolicy, with_retries


class FakeSleep:
    """Records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def scripted(*outcomes: ChannelError | Exception | str) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """A call that raises or returns each outcome in turn; the list counts the calls."""
    remaining = list(outcomes)
    calls = [0]

    async def call() -> str:
        calls[0] += 1
        outcome = remaining.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return call, calls


def fixed(*fractions: float) -> Callable[[], float]:
    """A `random` that returns the given fractions in turn, then keeps returning the last."""
    queue = list(fractions)

    def draw() -> float:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return draw


def unavailable() -> ChannelUnavailable:
    return ChannelUnavailable("503 from the shop", status=503)


def throttled(retry_after: float | None) -> ChannelRateLimited:
    return ChannelRateLimited("429 from the shop", retry_after=retry_after)


async def test_a_first_success_returns_at_once() -> None:
    call, calls = scripted("done")
    sleep = FakeSleep()

    assert await with_retries(call, policy=RetryPolicy(), sleep=sleep) == "done"
    assert calls == [1]
    assert sleep.waits == []


async def test_transient_errors_back_off_exponentially_up_to_the_attempt_limit() -> None:
    call, calls = scripted(*(unavailable() for _ in range(5)), "never reached")
    sleep = FakeSleep()

    with pytest.raises(ChannelUnavailable):
        await with_retries(call, policy=RetryPolicy(max_attempts=5, base_delay=0.5), sleep=sleep, random=lambda: 1.0)

    assert calls == [5]
    assert sleep.waits == [0.5, 1.0, 2.0, 4.0]


async def test_a_503_with_retry_after_waits_at_least_that_long_and_still_counts_an_attempt() -> None:
    """A shop that says when it will be back is not asked sooner; a later, longer backoff still applies."""
    call, calls = scripted(
        ChannelUnavailable("503 maintenance", status=503, retry_after=3.0),
        ChannelUnavailable("503 maintenance", status=503, retry_after=0.1),
        "done",
    )
    sleep = FakeSleep()

    policy = RetryPolicy(max_attempts=3, base_delay=0.5)
    assert await with_retries(call, policy=policy, sleep=sleep, random=lambda: 1.0) == "done"
    assert (calls, sleep.waits) == ([3], [3.0, 1.0])


async def test_the_jitter_is_drawn_under_the_growing_ceiling_and_capped() -> None:
    call, _ = scripted(*(ChannelTimeout("read timed out") for _ in range(6)))
    sleep = FakeSleep()
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=5.0)

    with pytest.raises(ChannelTimeout):
        await with_retries(call, policy=policy, sleep=sleep, random=fixed(0.5, 0.25, 1.0, 0.5, 1.0))

    # ceilings 1, 2, 4, 8 -> 5 (capped), 16 -> 5, each times its draw
    assert sleep.waits == [0.5, 0.5, 4.0, 2.5, 5.0]


async def test_real_jitter_stays_within_each_ceiling() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    for retry in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (retry - 1))
        draws = [policy.backoff(retry) for _ in range(50)]
        assert all(0.0 <= draw <= ceiling for draw in draws)
        assert len(set(draws)) > 1, "full jitter spreads the retries of workers that failed together"


async def test_success_after_transient_failures_returns_the_value() -> None:
    call, calls = scripted(unavailable(), ChannelTimeout("timed out"), "created")
    sleep = FakeSleep()

    assert await with_retries(call, policy=RetryPolicy(), sleep=sleep, random=lambda: 1.0) == "created"
    assert calls == [3]
    assert sleep.waits == [0.5, 1.0]


@pytest.mark.parametrize(
    "error",
    [
        ChannelRejected("422: title is required", status=422),
        CredentialsRejected("401: bad key", status=401),
        ChannelError("the channel said no"),
    ],
)
async def test_permanent_errors_are_raised_without_a_retry(error: ChannelError) -> None:
    call, calls = scripted(error, "never reached")
    sleep = FakeSleep()

    with pytest.raises(type(error)) as raised:
        await with_retries(call, policy=RetryPolicy(), sleep=sleep)

    assert raised.value is error
    assert calls == [1]
    assert sleep.waits == []


async def test_errors_that_are_not_channel_errors_propagate_untouched() -> None:
    call, calls = scripted(KeyError("a bug in the mapper"), "never reached")

    with pytest.raises(KeyError):
        await with_retries(call, policy=RetryPolicy(), sleep=FakeSleep())
    assert calls == [1]


async def test_waiting_out_a_429_does_not_use_up_an_attempt() -> None:
    call, calls = scripted(*(throttled(2.0) for _ in range(10)), "ok")
    sleep = FakeSleep()

    assert await with_retries(call, policy=RetryPolicy(max_attempts=2), sleep=sleep) == "ok"
    assert calls == [11]
    assert sleep.waits == [2.0] * 10


async def test_only_transient_failures_count_towards_the_attempt_limit() -> None:
    call, calls = scripted(unavailable(), throttled(1.0), unavailable(), throttled(1.0), unavailable(), "late")
    sleep = FakeSleep()

    with pytest.raises(ChannelUnavailable):
        await with_retries(call, policy=RetryPolicy(max_attempts=3), sleep=sleep, random=lambda: 1.0)

    assert calls == [5]
    assert sleep.waits == [0.5, 1.0, 1.0, 1.0]


async def test_a_storm_of_429s_is_bounded_by_the_total_wait() -> None:
    call, calls = scripted(*(throttled(10.0) for _ in range(100)))
    sleep = FakeSleep()

    with pytest.raises(ChannelRateLimited):
        await with_retries(call, policy=RetryPolicy(max_total_wait=35.0), sleep=sleep)

    assert sleep.waits == [10.0, 10.0, 10.0]
    assert calls == [4]


async def test_a_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    call, calls = scripted(throttled(3600.0), "never reached")
    sleep = FakeSleep()

    with pytest.raises(ChannelRateLimited) as raised:
        await with_retries(call, policy=RetryPolicy(max_total_wait=300.0), sleep=sleep)

    assert raised.value.retry_after == 3600.0, "the caller can still defer the job by the channel's own wait"
    assert sleep.waits == []
    assert calls == [1]


async def test_a_429_without_retry_after_backs_off_without_using_an_attempt() -> None:
    call, calls = scripted(throttled(None), throttled(None), throttled(None), "ok")
    sleep = FakeSleep()

    result = await with_retries(
        call, policy=RetryPolicy(max_attempts=1, base_delay=0.5), sleep=sleep, random=lambda: 1.0
    )

    assert result == "ok"
    assert calls == [4]
    assert sleep.waits == [1.0, 1.0, 2.0], "backoff of 0.5, 1, 2 seconds, and never under MIN_THROTTLE_WAIT"


@pytest.mark.parametrize("retry_after", [0.0, None])
@pytest.mark.parametrize("base_delay", [0.5, 0.0])
async def test_a_shop_answering_429_with_no_wait_forever_is_given_up_on(
    retry_after: float | None, base_delay: float
) -> None:
    """Retry-After: 0 (or a date already past, when the shop's clock is behind) asked again at once, forever:
    the total wait never grew, so the budget never ran out."""
    call, calls = scripted(*(throttled(retry_after) for _ in range(1000)))
    sleep = FakeSleep()

    with pytest.raises(ChannelRateLimited):
        await with_retries(call, policy=RetryPolicy(base_delay=base_delay, max_total_wait=30.0), sleep=sleep)

    assert calls[0] <= 31
    assert all(wait >= MIN_THROTTLE_WAIT for wait in sleep.waits)


def test_a_policy_needs_an_attempt() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
