"""At most one public answer per member per minute to a refused 🔁.

A reaction has no private reply, so a refusal is a channel message. Toggling the reaction
must not flood the channel nor spend the send budget that deliveries need: the first
refusal in a window is said, the rest are only logged. A guild's reactions always reach the
process of its shard, so this process's memory is the whole picture.
"""

from __future__ import annotations

import time
from collections.abc import Callable

REFUSAL_WINDOW_SECONDS = 60.0
_MAX_TRACKED = 10_000  # members remembered at once; the oldest are forgotten first


class RefusalThrottle:
    """Says whether a member may be answered now; remembers whom it answered, and when."""

    def __init__(
        self,
        *,
        window_seconds: float = REFUSAL_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window_seconds
        self._clock = clock
        self._answered: dict[int, float] = {}  # member id -> when they were last answered

    def allow(self, member_id: int) -> bool:
        """True (and noted) when ``member_id`` was not answered within the window."""
        now = self._clock()
        last = self._answered.get(member_id)
        if last is not None and now - last < self._window:
            return False
        self._answered.pop(member_id, None)
        self._answered[member_id] = now  # re-inserted: the dict stays oldest first
        self._forget_old(now)
        return True

    def _forget_old(self, now: float) -> None:
        while self._answered:
            member, at = next(iter(self._answered.items()))
            if now - at < self._window and len(self._answered) <= _MAX_TRACKED:
                return
            del self._answered[member]
