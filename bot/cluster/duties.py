"""Duties: work that must run in one process at a time, whichever processes are up.

A duty (polling an account's tasks, the media retention sweep, ...) runs where its lease is
held (``leases.py``). Every process runs one ``Duties`` loop: each beat it renews the
leases it holds, stops a duty whose lease another process took, and takes any lease that is
free or has lapsed (its holder died), starting that duty here. A stopped process gives its
leases back, so another takes them over at its next beat instead of waiting a whole lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from bot.cluster.leases import Leases
from bot.errors import QuietError
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Duty:
    """A named loop that runs only where its lease is held; cancelled when it is lost."""

    name: str
    run: Callable[[], Coroutine[Any, Any, None]]


class Duties:
    """Holds, renews, takes over and gives back this process's duties."""

    def __init__(self, leases: Leases, duties: Sequence[Duty], *, beat_seconds: float) -> None:
        self._leases = leases
        self._duties = {duty.name: duty for duty in duties}
        self._beat = beat_seconds
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._tasks = BackgroundTasks()
        self._failing = False

    @property
    def held(self) -> frozenset[str]:
        """The duties running here now."""
        return frozenset(self._running)

    async def run_forever(self) -> None:
        while True:
            await self.beat()
            await asyncio.sleep(self._beat)

    async def beat(self) -> None:
        """Renew, drop what was lost, take what is free. A database away costs nothing but
        this beat: the leases' holders keep running and renew at the next one."""
        try:
            await self._renew()
            await self._take()
        except QuietError:
            return
        except Exception:
            if not self._failing:
                log.exception("duties: a beat failed; trying again at the next")
            self._failing = True
            return
        self._failing = False

    async def _renew(self) -> None:
        for name, task in list(self._running.items()):
            if task.done():
                # The loop ended by itself (a bug): give the duty back so it starts afresh.
                del self._running[name]
                await self._leases.give_back([name])
                log.error("duty %s stopped on its own; it will be taken again", name)
        if not self._running:
            return
        kept = await self._leases.renew(list(self._running))
        for name in sorted(set(self._running) - kept):
            log.warning("duty %s lost to another process: stopped here", name)
            await self._stop(name)

    async def _take(self) -> None:
        for name, duty in list(self._duties.items()):  # duties may come and go meanwhile
            if (
                name not in self._duties
                or name in self._running
                or not await self._leases.take(name)
            ):
                continue
            log.info("duty %s taken by %s", name, self._leases.owner)
            self._running[name] = self._tasks.spawn(duty.run(), name=f"duty-{name}")

    def add(self, duty: Duty) -> None:
        """A duty that came into being (a server's own account): taken at the next beat."""
        self._duties[duty.name] = duty

    async def remove(self, name: str) -> None:
        """A duty that is no more: stopped here and its lease given back."""
        self._duties.pop(name, None)
        if name in self._running:
            await self._stop(name)
            await self._leases.give_back([name])

    async def _stop(self, name: str) -> None:
        task = self._running.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def close(self) -> None:
        """Stop every duty and give the leases back (another process takes them at once)."""
        names = list(self._running)
        for name in names:
            await self._stop(name)
        await self._tasks.cancel_all()
        if names:
            try:
                await self._leases.give_back(names)
            except Exception as error:  # the database is away: the leases lapse instead
                log.warning("duties: could not give back %s (%s)", ", ".join(names), error)
