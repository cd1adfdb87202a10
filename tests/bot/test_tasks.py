"""The loops' alarm clock: a cancel is never lost, even when it meets a ring."""

from __future__ import annotations

import asyncio

import pytest

from bot.tasks import Wakeup


async def test_a_cancel_that_meets_a_ring_still_ends_the_loop() -> None:
    """On Python 3.11, ``asyncio.wait_for`` returns the ring and drops a cancel that arrives
    in the same turn of the event loop; a loop sleeping on it ran on after its owner
    cancelled it, and a close waiting for it hung (test_caps_answer_at_once_with_the_numbers
    in CI)."""
    for seconds in (None, 30.0):
        wakeup = Wakeup()
        turns = 0

        async def loop(wakeup: Wakeup = wakeup, seconds: float | None = seconds) -> None:
            nonlocal turns
            while True:
                await wakeup.sleep(seconds)
                turns += 1

        task = asyncio.ensure_future(loop())
        await asyncio.sleep(0)  # asleep now
        wakeup.ring()
        task.cancel()  # in the same turn as the ring
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(2):
                await task
        assert task.cancelled()
        assert turns == 0


async def test_it_sleeps_until_rung_or_the_deadline() -> None:
    wakeup = Wakeup()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await wakeup.sleep(0.05)
    assert loop.time() - began >= 0.05
    wakeup.ring()  # a ring while busy is kept for the next sleep
    began = loop.time()
    await wakeup.sleep(30)
    assert loop.time() - began < 1
