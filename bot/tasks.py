"""Background tasks that are kept, logged when they fail, and cancelled together; and the
alarm clock that lets a loop sleep until it is woken."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from bot.errors import QuietError

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Owns asyncio tasks so none is garbage-collected mid-flight or dies unnoticed."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, QuietError):
            # Its cause was logged where it happened (the database is away): one line here.
            log.warning("background task %s stopped: %s", task.get_name(), error)
        elif error is not None:
            log.error("background task %s failed", task.get_name(), exc_info=error)

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Wakeup:
    """A loop's alarm clock: it sleeps until a deadline, or until someone rings. A ring while
    the loop is busy is kept for its next sleep."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ring(self) -> None:
        self._event.set()

    async def sleep(self, seconds: float | None) -> None:
        """Wait up to ``seconds`` (None: until rung).

        ``asyncio.timeout``, not ``wait_for``: on Python 3.11 a cancel that arrives as the
        alarm rings is lost inside ``wait_for`` (it returns the ring instead), and a loop
        sleeping here would then run on after its owner cancelled it, holding up a close.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._event.wait()
        self._event.clear()
