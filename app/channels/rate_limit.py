"""The connector's rate limit: one token bucket in Redis shared by every worker process on every host.

A channel limits the store (or the app's token), not one of our processes, so
the bucket lives in Redis under `pimsync:rate:{connector_public_id}` and is
read and changed only by Lua scripts: Redis runs a script atomically, so two
workers can never both spend the last token. The scripts read the clock with
Redis's `TIME`, so hosts whose clocks disagree still agree on the bucket.

Semantics (kept identical in `LocalTokenBucket`, the in-process twin for
single-process benchmarks and tests without Redis):

- The bucket starts full and refills at `rate` units per second up to
  `capacity`, and a little beyond: up to `LATE_CREDIT` of one unit more (of
  the capacity, when that is smaller). A waiter wakes a few milliseconds
  after its units were due whenever the event loop was busy (a sync page's
  documents are built between requests); with a bucket of one request's
  worth (burst 1) that time was lost every time, and a limit of 20
  requests/s was used at 0.94-0.95. The credit keeps that lateness, so the
  long-run rate is the limit; for whole units and a whole capacity it never
  lets more than `capacity` units out at once.
- `acquire(cost)` takes `cost` units, or learns how long until it could and
  sleeps that long before asking again. Nothing is held while sleeping; a
  cancelled waiter has taken nothing.
- A cost above the capacity could never be paid from the bucket and would wait
  forever. It waits for a full bucket instead, then takes its whole cost, so
  the bucket goes into debt and later requests wait until the debt is repaid:
  no deadlock, and the long-run rate still counts what was really spent.
- `observe(signal)` brings the bucket to what the channel said. A Retry-After
  blocks the whole bucket (every worker) until then, empties it, and starts
  refilling only when the block ends, so the first request after a 429 is
  the only one that can meet a still-throttled channel. `capacity` and
  `restore_rate` replace ours until the connector's configured limit changes
  or the key expires. `available` can only lower our tokens, never raise
  them: the channel counted it before it saw requests other workers already
  have in flight, so raising to it would hand those units out twice and earn
  the next 429. The one exception is a channel that shows a bucket larger
  than ours (with what is available in it): the units ours did not know of
  were never handed out, so they are added, up to `available`. Without that
  a Shopify bucket, configured at 5 and told 2,000 points by the first
  answer, kept its 5 and then paced every read (estimated at 202 points) at
  the restore rate: two seconds for a one-product sync.
- An idle bucket expires, but never before the channel's own bucket would
  have refilled too: a bucket re-created full must not over-credit.
- A channel can ask for any wait: "Retry-After: 36000" when a daily quota is
  spent, or garbage. A block is kept to MAX_RETRY_AFTER, and `acquire` does
  not sleep through a block longer than `max_block_wait`: it raises
  ChannelRateLimited (CHN-020) with the time left, as the retry helper would
  for the 429 itself, so a worker does not hold its chunk's lease for hours
  while the user's job shows no progress and cannot be cancelled.
"""

from __future__ import annotations

import asyncio
import math
import random as _random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from app.channels.base import ChannelRateLimited, RateGate, RateSignal
from app.channels.retry import MAX_TOTAL_WAIT
from app.domain.channels import ChannelTypeSpec

Sleep = Callable[[float], Awaitable[None]]

DEFAULT_JITTER = 0.005
"""Seconds of random delay added to each wait, at most, so waiters take turns (see RedisTokenBucket.acquire)."""
MAX_JITTER_SHARE = 0.02
"""The delay's cap as a share of the time the units waited for take to accrue."""

LATE_CREDIT = 0.2
"""How far beyond its capacity the bucket refills, as a share of one unit (of the capacity when below one)."""

DEFAULT_IDLE_TTL = 900.0
"""Seconds an untouched bucket stays in Redis (longer when it needs longer to refill)."""

MAX_TTL_MS = 7 * 86_400_000
"""Longest a bucket stays in Redis: a channel's absurd limit (X-RateLimit-Limit: 1e17) must not make PEXPIRE fail."""

MAX_RETRY_AFTER = 86_400.0
"""Longest block a Retry-After sets; the first request after it learns whether the channel still wants more."""

DEFAULT_MAX_BLOCK_WAIT = MAX_TOTAL_WAIT
"""Longest `acquire` sleeps through a channel's block before raising instead: the retry helper's own budget, so
the request that met the 429 and the ones after it give up alike."""

# Shared by both scripts. KEYS[1]: the bucket hash. ARGV[1], ARGV[2]: the connector's configured
# capacity and rate, as strings (a change of either resets what the channel taught us). ARGV[3]: idle TTL in ms.
# ARGV[4]: LATE_CREDIT. ARGV[5]: MAX_TTL_MS.
_PRELUDE = """
local key = KEYS[1]
local cfg_capacity, cfg_rate = ARGV[1], ARGV[2]
local idle_ms = tonumber(ARGV[3])
local late_credit = tonumber(ARGV[4])
local max_ttl_ms = tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local s = redis.call('HMGET', key, 'tokens', 'ts', 'capacity', 'rate', 'blocked_until', 'cfg_capacity', 'cfg_rate')
local tokens, ts, capacity, rate, blocked
if s[1] then
  tokens, ts, blocked = tonumber(s[1]), tonumber(s[2]), tonumber(s[5])
  capacity, rate = tonumber(s[3]), tonumber(s[4])
  if s[6] ~= cfg_capacity or s[7] ~= cfg_rate then
    capacity, rate = tonumber(cfg_capacity), tonumber(cfg_rate)
  end
else
  capacity, rate = tonumber(cfg_capacity), tonumber(cfg_rate)
  tokens, ts, blocked = capacity, now, 0
end
local ceiling = capacity + math.min(capacity, 1) * late_credit
if now > ts then
  tokens = math.min(ceiling, tokens + (now - ts) * rate)
  ts = now
end
tokens = math.min(tokens, ceiling)
local function save()
  redis.call('HSET', key,
    'tokens', string.format('%.17g', tokens), 'ts', string.format('%.6f', ts),
    'capacity', string.format('%.17g', capacity), 'rate', string.format('%.17g', rate),
    'blocked_until', string.format('%.6f', blocked), 'cfg_capacity', cfg_capacity, 'cfg_rate', cfg_rate)
  local full_at = math.max(ts, blocked) + math.max(0, capacity - tokens) / rate
  redis.call('PEXPIRE', key, math.ceil(math.min(max_ttl_ms, math.max(idle_ms, (full_at - now) * 1000 + 1000))))
end
"""

# ARGV[6]: the cost. Returns {wait, blocked}: the seconds to wait before asking again ('0' when taken), and
# how much of that is the channel's block.
_ACQUIRE = (
    _PRELUDE
    + """
local cost = tonumber(ARGV[6])
local need = math.min(cost, capacity)
if now >= blocked and ts <= now and tokens >= need then
  tokens = tokens - cost
  save()
  return {'0', '0'}
end
save()
local wait = math.max(blocked - now, (ts - now) + math.max(0, need - tokens) / rate)
return {string.format('%.17g', wait), string.format('%.17g', math.max(0, blocked - now))}
"""
)

# ARGV[6..9]: retry_after, available, capacity, restore_rate; '' when the channel did not say.
_OBSERVE = (
    _PRELUDE
    + """
local retry_after, available = tonumber(ARGV[6]), tonumber(ARGV[7])
local new_capacity, new_rate = tonumber(ARGV[8]), tonumber(ARGV[9])
if new_capacity and new_capacity > 0 then
  if available and new_capacity > capacity then tokens = tokens + (new_capacity - capacity) end
  capacity = new_capacity
  tokens = math.min(tokens, capacity)
end
if new_rate and new_rate > 0 then rate = new_rate end
if available then tokens = math.min(tokens, math.max(available, 0)) end
if retry_after and retry_after > 0 then
  blocked = math.max(blocked, now + retry_after)
  tokens = math.min(tokens, 0)
  ts = math.max(ts, blocked)
end
save()
return 1
"""
)


def rate_key(connector_public_id: str) -> str:
    """The Redis key of a connector's bucket."""
    return f"pimsync:rate:{connector_public_id}"


def request_cap_key(connector_public_id: str) -> str:
    """The Redis key of a connector's cap on requests per second, where the channel's own bucket counts
    something else (Shopify's cost points): see CappedGate."""
    return f"{rate_key(connector_public_id)}:requests"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A bucket's configured size: `capacity` units at most, refilled at `rate` units per second."""

    capacity: float
    rate: float

    def __post_init__(self) -> None:
        if not (self.capacity > 0 and self.rate > 0):
            raise ValueError(f"a rate limit needs a positive capacity and rate, not {self.capacity} and {self.rate}")

    @classmethod
    def for_channel(
        cls, spec: ChannelTypeSpec, *, requests_per_second: float | None = None, burst: float | None = None
    ) -> RateLimit:
        """The channel type's default rate, or the connector's override; the burst defaults to one second's worth.

        A burst of one second's requests (at least one) is what a per-second
        limit lets through in any window; the channel's own signals correct it.
        """
        rate = requests_per_second if requests_per_second is not None else spec.requests_per_second
        return cls(capacity=burst if burst is not None else max(1.0, rate), rate=rate)


def _argument(value: float | None) -> str:
    """A number as the scripts read it; '' (Lua's nil) for a value the channel did not say or that is not finite."""
    return "" if value is None or not math.isfinite(value) else repr(float(value))


def _check_cost(cost: float) -> None:
    if not (cost >= 0 and math.isfinite(cost)):
        raise ValueError(f"a request cannot cost {cost} units")


def _refuse_long_block(blocked: float, max_block_wait: float) -> None:
    """ChannelRateLimited when the channel's block has more than `max_block_wait` seconds left to run."""
    if blocked > max_block_wait:
        raise ChannelRateLimited(
            f"not sent: the channel asked for no requests for another {math.ceil(blocked)} s (Retry-After)",
            retry_after=blocked,
            status=None,
        )


class RedisTokenBucket:
    """A RateGate whose bucket is one Redis hash, shared by every worker that names the same key."""

    def __init__(
        self,
        redis: Redis,
        *,
        key: str,
        limit: RateLimit,
        idle_ttl: float = DEFAULT_IDLE_TTL,
        max_block_wait: float = DEFAULT_MAX_BLOCK_WAIT,
        jitter: float = DEFAULT_JITTER,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.key = key
        self.limit = limit
        self._config = [
            _argument(limit.capacity),
            _argument(limit.rate),
            str(max(1, round(idle_ttl * 1000))),
            _argument(LATE_CREDIT),
            str(MAX_TTL_MS),
        ]
        self._acquire = redis.register_script(_ACQUIRE)
        self._observe = redis.register_script(_OBSERVE)
        self._max_block_wait = max_block_wait
        self._jitter = jitter
        self._sleep = sleep
        self._random = random

    @classmethod
    def for_connector(
        cls, redis: Redis, *, connector_public_id: str, limit: RateLimit, idle_ttl: float = DEFAULT_IDLE_TTL
    ) -> RedisTokenBucket:
        """The bucket of one connector (`pimsync:rate:{connector_public_id}`), on the app's or arq's Redis."""
        return cls(redis, key=rate_key(connector_public_id), limit=limit, idle_ttl=idle_ttl)

    async def try_acquire(self, cost: float = 1.0) -> float:
        """Take `cost` units now and return 0, or take nothing and return the seconds until they could be taken.

        Public so a task can choose to defer itself (arq `Retry(defer=...)`)
        rather than sleep through a long block.
        """
        wait, _ = await self._ask(cost)
        return wait

    async def _ask(self, cost: float) -> tuple[float, float]:
        """The seconds until `cost` units could be taken (0: taken now), and how much of that the channel blocked."""
        _check_cost(cost)
        if cost == 0:
            return 0.0, 0.0
        wait, blocked = await self._acquire(keys=[self.key], args=[*self._config, _argument(cost)])
        return max(0.0, float(wait)), max(0.0, float(blocked))

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until `cost` units are taken; Redis says how long each wait is, so there is no polling between.

        Waiters for the same units all wake when they are due, and the
        quickest round trip would win every time, starving the others; a
        little random delay makes them take turns. It is at most 2% of the
        time the units take to accrue (and `jitter` seconds), well inside the
        bucket's LATE_CREDIT, so the delay costs no throughput.

        Raises ChannelRateLimited, having taken nothing, while the channel's
        block has more than `max_block_wait` seconds to run.
        """
        spread = min(self._jitter, MAX_JITTER_SHARE * cost / self.limit.rate)
        while True:
            wait, blocked = await self._ask(cost)
            if wait <= 0:
                return
            _refuse_long_block(blocked, self._max_block_wait)
            await self._sleep(wait + spread * self._random())

    async def observe(self, signal: RateSignal) -> None:
        """Apply what the channel said to the shared bucket (see the module docstring for each field)."""
        if signal == RateSignal():
            return
        retry_after = None if signal.retry_after is None else min(signal.retry_after, MAX_RETRY_AFTER)
        said = (retry_after, signal.available, signal.capacity, signal.restore_rate)
        await self._observe(keys=[self.key], args=[*self._config, *map(_argument, said)])


class LocalTokenBucket:
    """The same bucket kept in this process only: for benchmarks and tests that run one process."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        max_block_wait: float = DEFAULT_MAX_BLOCK_WAIT,
    ) -> None:
        self.limit = limit
        self.capacity = limit.capacity
        self.rate = limit.rate
        self._clock = clock
        self._sleep = sleep
        self._max_block_wait = max_block_wait
        self._tokens = limit.capacity
        self._ts = clock()
        self._blocked = 0.0

    def _refill(self) -> float:
        now = self._clock()
        ceiling = self.capacity + min(self.capacity, 1.0) * LATE_CREDIT
        if now > self._ts:
            self._tokens = min(ceiling, self._tokens + (now - self._ts) * self.rate)
            self._ts = now
        self._tokens = min(self._tokens, ceiling)
        return now

    async def try_acquire(self, cost: float = 1.0) -> float:
        _check_cost(cost)
        now = self._refill()
        need = min(cost, self.capacity)
        if cost == 0 or (now >= self._blocked and self._ts <= now and self._tokens >= need):
            self._tokens -= cost
            return 0.0
        return max(self._blocked - now, (self._ts - now) + max(0.0, need - self._tokens) / self.rate)

    async def acquire(self, cost: float = 1.0) -> None:
        while (wait := await self.try_acquire(cost)) > 0:
            _refuse_long_block(self._blocked - self._clock(), self._max_block_wait)
            await self._sleep(wait)

    async def observe(self, signal: RateSignal) -> None:
        now = self._refill()
        if signal.capacity is not None and signal.capacity > 0:
            if signal.available is not None and signal.capacity > self.capacity:
                self._tokens += signal.capacity - self.capacity
            self.capacity = signal.capacity
            self._tokens = min(self._tokens, self.capacity)
        if signal.restore_rate is not None and signal.restore_rate > 0:
            self.rate = signal.restore_rate
        if signal.available is not None:
            self._tokens = min(self._tokens, max(signal.available, 0.0))
        if signal.retry_after is not None and signal.retry_after > 0:
            self._blocked = max(self._blocked, now + min(signal.retry_after, MAX_RETRY_AFTER))
            self._tokens = min(self._tokens, 0.0)
            self._ts = max(self._ts, self._blocked)


class CappedGate:
    """The channel's own bucket, with the connector's cap on requests per second over it.

    Shopify counts query cost points, not requests, and each answer's
    throttleStatus retunes its bucket (`channel`) to what the shop has. A
    user who sets requestsPerSecond asks for fewer requests than that: the
    `cap` bucket takes one unit per request and hears nothing from the
    channel, so no answer raises it. A request waits for its points first and
    its request unit last, so it goes out as soon as the cap lets it (points
    taken early only make the channel's bucket look emptier than it is).
    """

    def __init__(self, channel: RateGate, cap: RateGate) -> None:
        self.channel = channel
        self.cap = cap

    async def acquire(self, cost: float = 1.0) -> None:
        await self.channel.acquire(cost)
        await self.cap.acquire(1.0)

    async def observe(self, signal: RateSignal) -> None:
        await self.channel.observe(signal)
