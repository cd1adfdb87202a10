"""A shared budget of provider queries per second, with a global back-off on 429."""

from __future__ import annotations

import asyncio
import random
import time


class QueryBudget:
    """A token bucket: at most ``rate`` queries a second on average, bursts of ``burst``.

    ``penalize`` stops every query for a while (the provider answered 429): the pause grows
    with each consecutive 429 and is jittered so several processes do not retry in step. The
    rate adapts too (additive increase, multiplicative decrease): the first 429 of a burst
    halves it, down to a tenth of the configured ceiling, and each answered query wins back a
    twentieth of the ceiling. A provider limit tighter than ours is thus met a few times, not
    once a second.
    """

    def __init__(self, rate: float, *, burst: float | None = None) -> None:
        self.ceiling = rate
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._tokens = self.burst
        self._updated = time.monotonic()
        self._blocked_until = 0.0
        self._strikes = 0
        self._lock = asyncio.Lock()
        self.spent = 0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        """Wait for a token (and for any back-off to end)."""
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._blocked_until:
                    await asyncio.sleep(self._blocked_until - now)
                    continue
                self._refill(now)
                if self._tokens >= 1:
                    self._tokens -= 1
                    self.spent += 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    def penalize(self, retry_after: float | None = None) -> float:
        """Back off every query after a 429; return the pause chosen."""
        now = time.monotonic()
        if now >= self._blocked_until:
            # The first 429 of a burst: the queries already in flight answer 429 as well and
            # must not each halve the rate again.
            self._refill(now)
            self.rate = max(self.ceiling / 10, self.rate / 2)
            self._tokens = min(self._tokens, 0.0)
        self._strikes += 1
        pause = retry_after if retry_after else min(2.0**self._strikes, 60.0)
        pause *= random.uniform(1.0, 1.25)
        self._blocked_until = max(self._blocked_until, now + pause)
        return pause

    def succeeded(self) -> None:
        self._strikes = 0
        if self.rate < self.ceiling:
            self._refill(time.monotonic())
            self.rate = min(self.ceiling, self.rate + self.ceiling / 20)
