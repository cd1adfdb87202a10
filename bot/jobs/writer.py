"""The one writer of job rows: every change goes through here, and nowhere else.

A change is a compare-and-set on the row, written to its end even if the caller is being
cancelled, logged once, then published as a ``JobEvent`` (the cards, the edge, the metrics
and the engine's own timeline listen). A write that finds the row moved raises
StaleJobStateError and publishes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from bot.clock import utcnow
from bot.jobs.custody import JobCustody
from bot.jobs.events import JobEvent
from bot.jobs.models import AnimateRequest, Job, JobChanges
from bot.jobs.repository import Caps, Choose, Guard, JobRepository
from bot.jobs.states import JobState
from bot.messages import PARAMS, UserMessage
from bot.topic import Topic

log = logging.getLogger(__name__)

T = TypeVar("T")


def failure_changes(message: UserMessage | None) -> JobChanges:
    """The columns a job ends with: when, and what the member was told."""
    if message is None:
        return JobChanges(finished_at=utcnow())
    return JobChanges(
        error_key=message.key.value,
        error_detail=PARAMS.dump_json(message.params).decode(),
        finished_at=utcnow(),
    )


class JobWriter:
    """Writes job rows and publishes each change."""

    def __init__(self, jobs: JobRepository, events: Topic[JobEvent], custody: JobCustody) -> None:
        self._jobs = jobs
        self._events = events
        self._custody = custody  # stamps the lease of the process working on a job
        self._writes: set[asyncio.Future[Any]] = set()

    @property
    def events(self) -> Topic[JobEvent]:
        return self._events

    async def create(
        self, request: AnimateRequest, caps: Caps, own_account: str | None = None
    ) -> Job:
        """Write a new job's row (RECEIVED), pinned to ``own_account`` if the server brings
        its own key. Raises CapExceededError, RetryPendingError."""
        lease = self._custody.lease()
        job = await self._shielded(self._jobs.create(request, caps, lease, own_account))
        log.info(
            "job %d created guild=%s user=%d retry_of=%s account=%s",
            job.id,
            job.guild_id,
            job.user_id,
            job.retry_of,
            job.own_account or "shared",
        )
        await self._events.publish(JobEvent(before=None, after=job))
        return job

    async def move(
        self,
        job: Job,
        target: JobState,
        changes: JobChanges | None = None,
        *,
        guard: Guard | None = None,
        notice: UserMessage | None = None,
    ) -> Job:
        """Move ``job`` to ``target``; ``notice`` is what the member must hear of it."""
        leased = (changes or JobChanges()).merged(self._custody.stamp(target))
        moved = await self._shielded(self._jobs.transition(job, target, leased, guard))
        log.info(
            "job %d %s -> %s guild=%s attempt=%d",
            job.id,
            job.state.value,
            target.value,
            job.guild_id,
            moved.attempt,
        )
        await self._events.publish(JobEvent(before=job, after=moved, notice=notice))
        return moved

    async def end(
        self,
        job: Job,
        target: JobState,
        message: UserMessage | None,
        *,
        tell: bool = True,
        changes: JobChanges | None = None,
    ) -> Job:
        """Write a terminal state with its reason (and ``changes``); the member is told
        unless ``tell`` is False (the caller answers them itself)."""
        ending = failure_changes(message)
        if changes is not None:
            ending = ending.merged(changes)
        return await self.move(job, target, ending, notice=message if tell else None)

    async def claim(
        self, account: str, capacity: int, choose: Choose, *, own: bool = False
    ) -> Job | None:
        """Take a queued job chosen by ``choose`` together with a free slot of ``account``
        (see ``JobRepository.claim``): SUBMITTING now, and this process's to submit."""
        stamp = self._custody.stamp(JobState.SUBMITTING)
        claimed = await self._shielded(self._jobs.claim(account, capacity, choose, stamp, own=own))
        if claimed is None:
            return None
        job = claimed.after
        log.info(
            "job %d %s -> %s guild=%s account=%s slot=%d attempt=%d",
            job.id,
            claimed.before.state.value,
            job.state.value,
            job.guild_id,
            account,
            claimed.slot,
            job.attempt,
        )
        await self._events.publish(JobEvent(before=claimed.before, after=job))
        return job

    async def annotate(self, job: Job, changes: JobChanges) -> Job:
        """Change columns without changing the state (the render began, a stop was asked)."""
        annotated = await self._shielded(self._jobs.annotate(job, changes))
        if annotated is not job:
            await self._events.publish(JobEvent(before=job, after=annotated))
        return annotated

    async def _shielded(self, write: Coroutine[Any, Any, T]) -> T:
        """Run a row write to its end even if the caller is cancelled; ``drain`` awaits it."""
        task: asyncio.Future[T] = asyncio.ensure_future(write)
        self._writes.add(task)
        task.add_done_callback(self._finished)
        return await asyncio.shield(task)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._writes.discard(task)
        if not task.cancelled():
            task.exception()  # a caller cancelled meanwhile still had its error raised there

    async def drain(self) -> None:
        """Wait for row writes under way (before the database closes)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
