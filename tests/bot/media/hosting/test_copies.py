"""One stored copy per file for hosts whose links any model may read."""

from __future__ import annotations

import asyncio

import pytest

from bot.media.hosting.copies import SharedCopies
from bot.provider.errors import ProviderTransientError


class Store:
    """Counts the copies made; each gets its own URL."""

    def __init__(self, *, fail: int = 0, delay: float = 0.0) -> None:
        self.made = 0
        self.fail = fail
        self.delay = delay

    async def __call__(self) -> str:
        await asyncio.sleep(self.delay)
        if self.fail:
            self.fail -= 1
            raise ProviderTransientError("MediaHostUnavailable", "try again")
        self.made += 1
        return f"https://host/copy-{self.made}"


async def _publish(
    copies: SharedCopies, store: Store, model: str, data: bytes = b"face", name: str = "f.jpg"
) -> str:
    return await copies.publish(
        data, model=model, filename=name, content_type="image/jpeg", store=store
    )


async def test_two_models_publishing_at_once_share_one_copy() -> None:
    copies, store = SharedCopies(), Store(delay=0.05)
    detect, render = await asyncio.gather(
        _publish(copies, store, "detect"), _publish(copies, store, "render")
    )
    assert detect == render
    assert store.made == 1


async def test_the_same_model_again_or_other_bytes_get_their_own_copy() -> None:
    copies, store = SharedCopies(), Store()
    first = await _publish(copies, store, "detect")
    assert await _publish(copies, store, "detect") != first
    assert await _publish(copies, store, "render", data=b"another face") != first
    assert await _publish(copies, store, "render", name="g.jpg") != first
    assert store.made == 4


async def test_copies_are_shared_within_the_window_only() -> None:
    now = [0.0]
    copies, store = SharedCopies(window_seconds=60, clock=lambda: now[0]), Store()
    first = await _publish(copies, store, "detect")
    now[0] = 61.0
    assert await _publish(copies, store, "render") != first


async def test_a_failed_store_is_not_shared_and_is_tried_afresh() -> None:
    copies, store = SharedCopies(), Store(fail=1, delay=0.05)
    results = await asyncio.gather(
        _publish(copies, store, "detect"),
        _publish(copies, store, "render"),
        return_exceptions=True,
    )
    # Both callers hear of the one failure (each retries on its own) ...
    assert all(isinstance(result, ProviderTransientError) for result in results)
    # ... and the next publish stores a copy, not the failure.
    assert await _publish(copies, store, "render") == "https://host/copy-1"


async def test_a_caller_giving_up_does_not_cancel_the_copy_others_wait_for() -> None:
    copies, store = SharedCopies(), Store(delay=0.1)
    owner = asyncio.ensure_future(_publish(copies, store, "detect"))
    await asyncio.sleep(0.01)
    waiter = asyncio.ensure_future(_publish(copies, store, "render"))
    await asyncio.sleep(0.01)
    waiter.cancel()
    assert await owner == "https://host/copy-1"
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_memory_is_bounded() -> None:
    copies, store = SharedCopies(limit=8), Store()
    for index in range(100):
        await _publish(copies, store, "detect", data=str(index).encode())
    assert len(copies) <= 8
