"""One retry helper for every loop that tries again: bounded tries, growing jittered waits."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)

ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class Backoff:
    """Waits of ``first``, ``first × factor``, … up to ``cap`` seconds, each jittered by
    ± ``jitter`` so several processes do not retry in step."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.2

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 is the first retry)."""
        base = min(self.first * self.factor ** max(0, retry - 1), self.cap)
        spread = (rng or _RNG).uniform(1 - self.jitter, 1 + self.jitter)
        return base * spread


_RNG = random.Random()


def _describe(error: BaseException) -> str:
    code = getattr(error, "code", None)
    return str(code) if code else type(error).__name__


async def retrying(
    call: Callable[[], Awaitable[ResultT]],
    *,
    attempts: int,
    backoff: Backoff,
    retry_if: Callable[[Exception], bool],
    what: str,
    hint: Callable[[Exception], float | None] | None = None,
    level: int = logging.WARNING,
) -> ResultT:
    """Run ``call`` up to ``attempts`` times while it raises an error ``retry_if`` accepts.

    The last error (or one ``retry_if`` refuses) is raised. ``hint`` may name a wait the
    other side asked for (a ``Retry-After``); it is honoured when longer than the backoff,
    within the backoff's cap. Each retry is logged at ``level``.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Exception as error:
            if attempt >= attempts or not retry_if(error):
                raise
            delay = backoff.delay(attempt)
            asked = hint(error) if hint is not None else None
            if asked is not None:
                delay = max(delay, min(asked, backoff.cap))
            log.log(
                level,
                "%s failed (%s), try %d of %d; again in %.1fs",
                what,
                _describe(error),
                attempt,
                attempts,
                delay,
            )
            await asyncio.sleep(delay)
    raise AssertionError("attempts must be at least 1")
