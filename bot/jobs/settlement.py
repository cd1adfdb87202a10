"""Settling submits cut short by a crash: between the provider accepting a task and the row
storing its id, the process died (or the answer was lost).

The provider has no idempotency key, so its task list decides (docs/architecture.md). The
list is trusted only when it is complete (``bot/provider/listing.py``) and shows every task
of ours created in the window; only tasks of the bot's own API key (``identity.py``) can be
its. Then: no unknown task of ours in a job's window -> it was never created: queue it again;
exactly one, and no other uncertain job shares the window -> adopt it; anything else -> ask
the member instead of risking a second charge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.jobs.custody import JobCustody
from bot.jobs.dispatcher import Dispatcher
from bot.jobs.identity import ZONE_SLACK, KeyIdentity, key_of
from bot.jobs.limits import RECONCILE_MARGIN_SECONDS, EngineLimits
from bot.jobs.models import Job, JobChanges
from bot.jobs.notices import uncertain
from bot.jobs.poller import Poller
from bot.jobs.repository import JobRepository, StaleJobStateError
from bot.jobs.states import JobState
from bot.jobs.timeline import Timeline
from bot.jobs.writer import JobWriter
from bot.provider.client import DashScopeClient, TaskListing
from bot.provider.errors import ProviderError
from bot.provider.models import SYNTHESIS_MODEL, ListedTask

log = logging.getLogger(__name__)

TASK_LIFETIME = timedelta(hours=24)  # a task id lives this long: the list is read that far
SETTLING = timedelta(seconds=30)  # our tasks younger than this may not be listed yet


@dataclass(frozen=True)
class Evidence:
    """What the provider's list says, and how far it can be trusted."""

    trusted: bool  # complete, and it shows every task of ours created in its window
    candidates: list[ListedTask]  # tasks we do not know that may be ours
    verified: bool  # the candidates are of our own key (not only of the same account)
    problem: str = ""


class Settlement:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        writer: JobWriter,
        client: DashScopeClient,
        dispatcher: Dispatcher,
        poller: Poller,
        identity: KeyIdentity,
        timeline: Timeline,
        custody: JobCustody,
        pace: Callable[[], Awaitable[None]],
        limits: EngineLimits,
    ) -> None:
        self._jobs = jobs
        self._writer = writer
        self._client = client
        self._dispatcher = dispatcher
        self._poller = poller
        self._identity = identity
        self._timeline = timeline
        self._custody = custody
        self._pace = pace
        self._margin = timedelta(seconds=RECONCILE_MARGIN_SECONDS)
        self._reach = timedelta(seconds=limits.submit_timeout_seconds) + self._margin
        self._account = limits.account  # the task list it reads is this account's only

    async def settle_orphans(self) -> int:
        """Settle the submits that no live process is making (their process died, its lease
        lapsed); return how many."""
        orphans = [
            job
            for job in await self._custody.orphans([JobState.SUBMITTING])
            if job.account == self._account
        ]
        if orphans:
            await self.settle(orphans)
        return len(orphans)

    async def settle(self, jobs: Sequence[Job]) -> None:
        """Settle ``jobs`` (all SUBMITTING), once no live process can still await an answer."""
        with contextlib.ExitStack() as held:
            for job in jobs:
                held.enter_context(self._custody.working(job.id))
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
            row
            for row in await self._jobs.in_states([JobState.SUBMITTING])
            if row.id not in batch and row.account == self._account
        ]
        evidence = await self._evidence()
        if not evidence.trusted:
            log.warning("task list not trusted (%s): asking the members instead", evidence.problem)
        for job in jobs:
            rivals = [
                other
                for other in [*jobs, *elsewhere]
                if other.id != job.id and abs(other.updated_at - job.updated_at) <= self._reach
            ]
            try:
                await self._settle_one(job, evidence, self._in_window(job, evidence), rivals)
            except StaleJobStateError:
                continue  # another process settled it

    async def _evidence(self) -> Evidence:
        now = utcnow()
        start, end = now - TASK_LIFETIME - ZONE_SLACK, now + ZONE_SLACK
        key_id = await self._identity.current()
        try:
            listing = await self._list(start, end, key_id)
            known = await self._jobs.known_task_ids()
            recent = await self._jobs.tasks_since(
                now - TASK_LIFETIME + timedelta(hours=1), account=self._account
            )
            if key_id is not None and _missing(listing, recent, now):
                # Our key may have changed: read the account's whole list once.
                key_id, listing = None, await self._list(start, end, None)
        except ProviderError as error:
            return Evidence(False, [], False, f"the list failed: {error.reference}")
        learned = key_of(listing, known)
        if learned is not None:
            await self._identity.remember(learned)
            key_id = learned
        if not listing.complete:
            return Evidence(False, [], False, listing.problem)
        missing = _missing(listing, recent, now)
        if missing:
            return Evidence(False, [], False, f"{len(missing)} of our own tasks are not listed")
        unknown = [task for task in listing.tasks if task.task_id not in known]
        if key_id is None:
            return Evidence(True, unknown, False, "the bot's api_key_id is not known yet")
        # Another key of the same account is someone else's: never a task of ours.
        return Evidence(True, [t for t in unknown if t.api_key_id == key_id], True)

    async def _list(self, start: datetime, end: datetime, key_id: str | None) -> TaskListing:
        return await self._client.list_tasks(
            model=SYNTHESIS_MODEL, start=start, end=end, api_key_id=key_id, pace=self._pace
        )

    def _in_window(self, job: Job, evidence: Evidence) -> list[ListedTask]:
        low, high = job.updated_at - self._margin, job.updated_at + self._reach
        return [
            task
            for task in evidence.candidates
            if task.submitted_at is None or low <= task.submitted_at <= high
        ]

    async def _settle_one(
        self,
        job: Job,
        evidence: Evidence,
        mine: Sequence[ListedTask],
        rivals: Sequence[Job],
    ) -> None:
        if evidence.trusted and not mine:
            log.info("job %d was never created at the provider: queued again", job.id)
            await self._writer.move(job, JobState.QUEUED)
        elif evidence.trusted and evidence.verified and len(mine) == 1 and not rivals:
            log.info("job %d adopts provider task %s", job.id, mine[0].task_id)
            adopted = await self._writer.move(
                job,
                JobState.SUBMITTED,
                JobChanges(task_id=mine[0].task_id, submitted_at=job.updated_at),
            )
            self._poller.track(adopted.id, delay=0)
        else:
            reason = evidence.problem or f"{len(mine)} candidate tasks, {len(rivals)} rivals"
            log.info("job %d: its submit cannot be settled (%s)", job.id, reason)
            # Its task may exist: the slot stays taken for as long as such a task could run.
            hold = JobChanges(slot_held_until=utcnow() + self._timeline.uncertain_hold(job))
            await self._writer.end(job, JobState.FAILED, uncertain(job), changes=hold)


def _missing(listing: TaskListing, recent: dict[str, datetime], now: datetime) -> list[str]:
    """Tasks of ours the list should show (old enough to be listed) but does not."""
    listed = {task.task_id for task in listing.tasks}
    return [task for task, at in recent.items() if at < now - SETTLING and task not in listed]
