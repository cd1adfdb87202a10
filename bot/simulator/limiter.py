"""Throttling: a sliding-window log per (account, endpoint, scope)."""

from __future__ import annotations

import logging
import math
import time
from collections import deque

log = logging.getLogger(__name__)


class RateLimiter:
    """At most `limit` accepted calls per `window` seconds per key; rejected calls do not
    use up the window."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, ...], deque[float]] = {}

    def check(self, key: tuple[str, ...], limit: float | None, window: float) -> float | None:
        """Record a call that fits and answer None; else the seconds until one would fit."""
        if limit is None:
            return None
        now = time.monotonic()
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - window:
            calls.popleft()
        if len(calls) < limit:
            calls.append(now)
            return None
        # A call fits once enough of the oldest ones left the window: len - dropped < limit.
        must_drop = math.floor(len(calls) - limit) + 1
        return max(0.0, calls[must_drop - 1] + window - now)

    def allow(self, key: tuple[str, ...], limit: float | None, window: float) -> bool:
        """Record a call and say whether it fits."""
        return self.check(key, limit, window) is None
