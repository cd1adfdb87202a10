"""Settling submits cut short by a crash: between the provider accepting a task and the row
storing its id, the process died (or the answer was lost).

The provider has no idempotency key, so its task list decides (docs/architecture.md): no
unknown task in a job's window -> it was never created: queue it again; exactly one, and no
other uncertain job shares the window -> adopt it; anything else -> ask the member instead
of risking a second charge.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from bot.clock import utcnow
from bot.jobs.dispatcher import Dispatcher
from bot.jobs.limits import EngineLimits
from bot.jobs.models import Job, JobChanges
from bot.jobs.notices import uncertain
from bot.jobs.poller import Poller
from bot.jobs.repository import JobRepository, StaleJobStateError
from bot.jobs.states import JobState
from bot.jobs.writer import JobWriter
from bot.provider.client import DashScopeClient, TaskListing
from bot.provider.errors import ProviderError
from bot.provider.models import SYNTHESIS_MODEL, ListedTask

log = logging.getLogger(__name__)

RECONCILE_MARGIN_SECONDS = 10.0  # clock skew between us and the provider, with room to spare


class Settlement:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        writer: JobWriter,
        client: DashScopeClient,
        dispatcher: Dispatcher,
        poller: Poller,
        limits: EngineLimits,
    ) -> None:
        self._jobs = jobs
        self._writer = writer
        self._client = client
        self._dispatcher = dispatcher
        self._poller = poller
        self._margin = timedelta(seconds=RECONCILE_MARGIN_SECONDS)
        self._reach = timedelta(seconds=limits.submit_timeout_seconds) + self._margin

    async def settle(self, jobs: Sequence[Job]) -> None:
        """Settle ``jobs`` (all SUBMITTING), once no live process can still await an answer."""
        # A live process may still be waiting for its answer: wait until none could be.
        settle_at = max(job.updated_at for job in jobs) + self._reach
        await asyncio.sleep(max(0.0, (settle_at - utcnow()).total_seconds()))
        async with self._dispatcher.submits_held():
            await self._settle_held(jobs)
        self._dispatcher.wake()

    async def _settle_held(self, jobs: Sequence[Job]) -> None:
        # Other processes' submits may be under way: their tasks would look unknown too.
        # (Read before the known ids, so a task id stored in between is not missed.)
        batch = {job.id for job in jobs}
        elsewhere = [
            row for row in await self._jobs.in_states([JobState.SUBMITTING]) if row.id not in batch
        ]
        start = min(job.updated_at for job in jobs) - self._margin
        try:
            listing: TaskListing | None = await self._client.list_tasks(
                model=SYNTHESIS_MODEL, start=start, end=utcnow()
            )
        except ProviderError as error:
            log.warning("task list unavailable (%s): asking the members instead", error.code)
            listing = None
        known = await self._jobs.known_task_ids()
        unknown = [] if listing is None else [t for t in listing.tasks if t.task_id not in known]
        for job in jobs:
            rivals = [
                other
                for other in [*jobs, *elsewhere]
                if other.id != job.id and abs(other.updated_at - job.updated_at) <= self._reach
            ]
            try:
                await self._settle_one(job, listing, self._in_window(job, unknown), rivals)
            except StaleJobStateError:
                continue  # another process settled it

    def _in_window(self, job: Job, unknown: Sequence[ListedTask]) -> list[ListedTask]:
        low, high = job.updated_at - self._margin, job.updated_at + self._reach
        return [
            task
            for task in unknown
            if task.submitted_at is None or low <= task.submitted_at <= high
        ]

    async def _settle_one(
        self,
        job: Job,
        listing: TaskListing | None,
        mine: Sequence[ListedTask],
        rivals: Sequence[Job],
    ) -> None:
        if listing is not None and listing.trustworthy and not mine:
            log.info("job %d was never created at the provider: queued again", job.id)
            await self._writer.move(job, JobState.QUEUED)
        elif listing is not None and len(mine) == 1 and not rivals:
            log.info("job %d adopts provider task %s", job.id, mine[0].task_id)
            adopted = await self._writer.move(
                job,
                JobState.SUBMITTED,
                JobChanges(task_id=mine[0].task_id, submitted_at=job.updated_at),
            )
            self._poller.track(adopted.id, delay=0)
        else:
            await self._writer.end(job, JobState.FAILED, uncertain(job))
