"""Servers' own accounts in the engine: one ``AccountWork`` per stored key, added and dropped
as keys come and go, in every process.

Each process keeps its roster equal to the stored keys: at each beat, and at once when a
key is set or cleared anywhere (a signal). A new key's account is built here and its duty
(``provider:<own-…>``) offered to the duties, so exactly one process dispatches, polls and
probes for it, as for the operator's accounts. A retired key (replaced or cleared) keeps
its account until none of the jobs pinned to it is left (their task ids answer only to its
key); then, after a grace that lets an intake which read the key before it was retired
write its row, the key is forgotten and its account dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.cluster.duties import Duties
from bot.errors import QuietError
from bot.jobs.account_work import AccountWork
from bot.jobs.events import JobEvent
from bot.jobs.models import Job
from bot.jobs.own_accounts import OwnKey, OwnKeys
from bot.jobs.repository import JobRepository
from bot.messages import MessageKey, UserMessage
from bot.provider.errors import ProviderError, ProviderOperatorError
from bot.tasks import Wakeup
from bot.topic import Topic

log = logging.getLogger(__name__)


class OwnAccountRoster:
    """Owns the servers' accounts this process knows, by name."""

    def __init__(
        self,
        *,
        keys: OwnKeys,
        build: Callable[[OwnKey], AccountWork],
        jobs: JobRepository,
        events: Topic[JobEvent],
        grace: timedelta,
        beat_seconds: float,
    ) -> None:
        self._keys = keys
        self._build = build
        self._jobs = jobs
        self._events = events
        self._grace = grace
        self._beat = beat_seconds
        self._works: dict[str, AccountWork] = {}
        self._empty_since: dict[str, datetime] = {}
        self._lock = asyncio.Lock()
        self._wakeup = Wakeup()

    def get(self, name: str | None) -> AccountWork | None:
        return self._works.get(name) if name is not None else None

    @property
    def accounts(self) -> list[AccountWork]:
        return list(self._works.values())

    def wake(self) -> None:
        """A key was set or cleared somewhere: look again now."""
        self._wakeup.ring()

    async def run_forever(self, duties: Duties) -> None:
        while True:
            try:
                await self.sync(duties)
            except QuietError:
                pass  # the database is away: said once where it happened
            except Exception:
                log.exception("own accounts: a sync failed; trying again at the next beat")
            await self._wakeup.sleep(self._beat)

    async def sync(self, duties: Duties) -> None:
        """Make the roster (and the duties offered) equal to the stored keys."""
        async with self._lock:
            keys = {key.name: key for key in await self._keys.keys()}
            for name, key in keys.items():
                if name not in self._works:
                    work = self._build(key)
                    self._works[name] = work
                    self._events.subscribe(work.timeline.on_event)
                    duties.add(work.duty())
                    log.info(
                        "own account %s of server %d added (%s)",
                        key.account_id,
                        key.guild_id,
                        "active" if key.active else "retired",
                    )
            for name in [name for name in self._works if name not in keys]:
                await self._drop(name, duties)  # forgotten by another process
            for key in keys.values():
                if not key.active and await self._finished(key):
                    await self._keys.forget(key)
                    await self._drop(key.name, duties)
                    log.info(
                        "own account %s of server %d forgotten: none of its jobs is left",
                        key.account_id,
                        key.guild_id,
                    )

    async def _finished(self, key: OwnKey) -> bool:
        """Whether a retired key has had no job left for the whole grace."""
        if await self._jobs.unfinished_on(key.name):
            self._empty_since.pop(key.name, None)
            return False
        since = self._empty_since.setdefault(key.name, utcnow())
        return utcnow() - since >= self._grace

    async def _drop(self, name: str, duties: Duties) -> None:
        work = self._works.pop(name)
        self._empty_since.pop(name, None)
        await duties.remove(work.duty().name)
        self._events.unsubscribe(work.timeline.on_event)
        await work.close()

    async def close(self) -> None:
        for work in self._works.values():
            await work.close()

    async def trouble(self, job: Job, error: ProviderError) -> UserMessage:
        """What the member hears when preparing failed at their server's own account: a
        refused key pauses that account only (its admins are alerted)."""
        work = self.get(job.own_account)
        if isinstance(error, ProviderOperatorError):
            if work is not None:
                await work.prober.pause(error)
            return UserMessage(key=MessageKey.OWN_KEY_UNAVAILABLE, params={"job": job.id})
        log.warning("job %d: the server's own account failed: %s", job.id, error.reference)
        return UserMessage(key=MessageKey.PROVIDER_BUSY, params={"job": job.id})
