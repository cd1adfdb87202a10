"""The 🔁 refusal throttle: one answer per member per window, memory bounded."""

from __future__ import annotations

from cogs.emo import throttle
from cogs.emo.throttle import RefusalThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_answer_per_member_per_window() -> None:
    clock = Clock()
    gate = RefusalThrottle(window_seconds=60, clock=clock)
    assert gate.allow(1)
    assert not gate.allow(1)
    assert gate.allow(2)  # another member is answered
    clock.now += 59.9
    assert not gate.allow(1)
    clock.now += 0.2
    assert gate.allow(1)
    assert not gate.allow(1)


def test_memory_stays_bounded() -> None:
    clock = Clock()
    gate = RefusalThrottle(window_seconds=60, clock=clock)
    limit = throttle._MAX_TRACKED
    for member in range(limit + 500):
        assert gate.allow(member)
    assert len(gate._answered) == limit
    # The oldest were forgotten first; the newest are still held back.
    assert gate.allow(0)
    assert not gate.allow(limit + 499)
    clock.now += 61
    assert gate.allow(7)
    assert len(gate._answered) == 1
