"""Which API key of the provider account is ours.

The task list covers the whole Alibaba Cloud account, every key of it; its rows carry an
``api_key_id``. Ours is learned from a row of a task we know, and kept (a ``meta`` value),
so a settlement filters by it and never takes another key's task for ours.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import timedelta

from bot.db.meta import MetaStore
from bot.jobs.limits import account_meta
from bot.jobs.models import Job
from bot.provider.accounts import LONE_ACCOUNT
from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderError
from bot.provider.listing import TaskListing
from bot.provider.models import SYNTHESIS_MODEL
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

KEY_ID = "provider_api_key_id"
# The list's time zone is not confirmed: a window this much wider either way finds a task.
ZONE_SLACK = timedelta(hours=9)


def key_of(listing: TaskListing, known: Collection[str]) -> str | None:
    """The api_key_id on the newest listed task we know (None when none is listed)."""
    ours = [task for task in listing.tasks if task.task_id in known and task.api_key_id]
    if not ours:
        return None
    newest = max(ours, key=lambda task: task.gmt_create or 0)
    return newest.api_key_id


class KeyIdentity:
    """Learns and remembers the account key the bot's tasks are created with."""

    def __init__(
        self,
        *,
        meta: MetaStore,
        client: DashScopeClient,
        pace: Callable[[], Awaitable[None]],
        account: str = LONE_ACCOUNT,
    ) -> None:
        self._meta = meta
        self._name = account_meta(KEY_ID, account)  # each account's keys are its own
        self._client = client
        self._pace = pace
        self._tasks = BackgroundTasks()
        self._learning = False

    async def current(self) -> str | None:
        return await self._meta.get(self._name)

    async def remember(self, key_id: str) -> None:
        if await self.current() != key_id:
            await self._meta.set(self._name, key_id)
            log.info("provider: the bot's tasks are created with api_key_id %s", key_id)

    def learn_soon(self, job: Job) -> None:
        """Look the key up once from ``job``'s task (a task we know), unless it is known."""
        if self._learning or job.task_id is None or job.submitted_at is None:
            return
        self._learning = True
        self._tasks.spawn(self._learn(job), name="learn-api-key-id")

    async def _learn(self, job: Job) -> None:
        try:
            if await self.current() is not None:
                return
            assert job.task_id is not None
            assert job.submitted_at is not None
            listing = await self._client.list_tasks(
                model=SYNTHESIS_MODEL,
                start=job.submitted_at - ZONE_SLACK,
                end=job.submitted_at + ZONE_SLACK,
                pace=self._pace,
            )
            found = key_of(listing, {job.task_id})
            if found is not None:
                await self.remember(found)
        except ProviderError as error:
            log.info("provider: could not learn the api_key_id yet (%s)", error.reference)
        finally:
            self._learning = False

    async def close(self) -> None:
        await self._tasks.cancel_all()
