"""The retry policy for channel requests, in one helper so every adapter call is retried the same way.

What each ChannelError leads to:

    ChannelError
    ├── transient
    │   ├── ChannelRateLimited   wait Retry-After; not an attempt
    │   ├── ChannelUnavailable   back off and retry; counts as an attempt
    │   └── ChannelTimeout       back off and retry; counts as an attempt
    └── permanent (ChannelRejected, CredentialsRejected, ...)   raised at once

Backoff is exponential with full jitter (a uniform draw between 0 and the
capped exponential), so workers that failed together do not retry together.
A 429 says "not now", not "this request is broken", so waiting it out does not
use up an attempt; a total wait budget still bounds a storm of them. That
bound needs every wait to count: a 429 that names no wait (no Retry-After,
"Retry-After: 0", a date already past on a shop whose clock is behind) backs
off and waits at least MIN_THROTTLE_WAIT, or a shop answering so forever
would be asked again and again without end.

The connector's rate gate is not this helper's: each channel client takes its
units before every request it sends (a retry is a new request) and tells the
gate what the answer said (a 429 pauses every worker), so the gate sees every
request whoever retries it.
"""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from app.channels.base import ChannelError, ChannelRateLimited, ChannelUnavailable

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]

MIN_THROTTLE_WAIT = 1.0
"""Seconds a 429 that names no wait is waited out at least; the Shopify and CUSTOM_HTTP clients block the
connector's gate as long, so its other workers pause too."""


MAX_TOTAL_WAIT = 300.0
"""Seconds of waiting one request may spend on a channel's "not now" (429s, 5xx backoff) before it gives up; the
rate gate refuses to sleep through a longer block for the same reason (rate_limit.DEFAULT_MAX_BLOCK_WAIT)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: `max_attempts` calls for transient failures, `max_total_wait` seconds of waiting in all."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total_wait: float = MAX_TOTAL_WAIT

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_total_wait < 0:
            raise ValueError("retry delays cannot be negative")

    def backoff(self, retry: int, random: Callable[[], float] = _random.random) -> float:
        """The wait before retry number `retry` (1-based): full jitter under `base_delay * 2**(retry-1)`, capped."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(retry - 1, 62))
        return ceiling * random()


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    sleep: Sleep = asyncio.sleep,
    random: Callable[[], float] = _random.random,
) -> T:
    """Run `call` until it succeeds, under `policy`; the last error is raised when the policy gives up.

    A 429 without a wait backs off like a transient error (MIN_THROTTLE_WAIT
    at least), still without using an attempt. Errors that are not
    ChannelErrors are not ours to judge: they propagate untouched.
    """
    attempts = 0
    throttles = 0
    waited = 0.0
    while True:
        try:
            return await call()
        except ChannelRateLimited as error:
            throttles += 1
            if error.retry_after is not None and error.retry_after > 0:
                delay = error.retry_after
            else:
                delay = max(MIN_THROTTLE_WAIT, policy.backoff(throttles, random))
            failure: ChannelError = error
        except ChannelError as error:
            if not error.transient:
                raise
            attempts += 1
            if attempts >= policy.max_attempts:
                raise
            delay = policy.backoff(attempts, random)
            if isinstance(error, ChannelUnavailable) and error.retry_after is not None:
                delay = max(delay, error.retry_after)  # a 503's Retry-After: sooner would find it still down
            failure = error
        if waited + delay > policy.max_total_wait:
            raise failure
        await sleep(delay)
        waited += delay
