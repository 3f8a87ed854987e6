"""A clock for rate gates under test: time moves only when something sleeps on it, so waits are exact and instant."""

from __future__ import annotations


class FakeClock:
    """A monotonic clock (call it) and its `sleep`, starting at 1000 s."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-6)  # a real sleep always passes some time; a float rounding left would not
