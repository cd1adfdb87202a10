"""Custody of jobs between processes: who is working on which job, until when.

A job being prepared, submitted or delivered is the work of one process, named on its row
with a lease (``lease_owner``, ``lease_until``) that the writer stamps when the job enters
such a state. While the work runs (``working``), this process's heartbeat renews it. When a
process dies, its leases lapse and another process takes the jobs over (``orphans``); a
restarted process with the same name takes its own back at once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from datetime import timedelta

from bot.clock import Clock, utcnow
from bot.jobs.models import Job, JobChanges
from bot.jobs.repository import JobRepository, Lease
from bot.jobs.states import JobState

log = logging.getLogger(__name__)

WORKED_STATES = frozenset(
    {
        JobState.RECEIVED,
        JobState.PREPARING,
        JobState.SUBMITTING,
        JobState.SUCCEEDED,
        JobState.DELIVERING,
    }
)
"""States in which a job is some process's work (the others wait on rows: the queue, the
provider, or nothing)."""


class JobCustody:
    """This process's leases on jobs: stamped by the writer, renewed while worked on."""

    def __init__(
        self, jobs: JobRepository, *, owner: str, ttl: timedelta, clock: Clock = utcnow
    ) -> None:
        self._jobs = jobs
        self.owner = owner
        self.ttl = ttl
        self._clock = clock
        self._working: dict[int, int] = {}  # job id -> how many workers hold it here
        self._looked: set[frozenset[JobState]] = set()  # the orphan searches done once

    def lease(self) -> Lease:
        """A lease taken now."""
        return Lease(owner=self.owner, until=self._clock() + self.ttl)

    def stamp(self, target: JobState) -> JobChanges:
        """The lease columns a move to ``target`` writes: ours while the job is worked on,
        none once it waits."""
        if target in WORKED_STATES:
            lease = self.lease()
            return JobChanges(lease_owner=lease.owner, lease_until=lease.until)
        return JobChanges(lease_owner=None, lease_until=None)

    @contextlib.contextmanager
    def working(self, job_id: int) -> Iterator[None]:
        """This process works on ``job_id`` for the block: the heartbeat renews its lease."""
        self._working[job_id] = self._working.get(job_id, 0) + 1
        try:
            yield
        finally:
            left = self._working.pop(job_id) - 1
            if left:
                self._working[job_id] = left

    def is_working(self, job_id: int) -> bool:
        return job_id in self._working

    async def heartbeat(self) -> None:
        """Renew the leases of the jobs worked on here."""
        held = set(self._working)
        if not held:
            return
        kept = await self._jobs.renew_leases(self.owner, held, self._clock() + self.ttl)
        for job_id in sorted(held - kept):
            # Not ours any more: the job moved on meanwhile, or another process took it
            # after our heartbeat failed for a whole lease (its writes and ours are
            # compare-and-sets on the state: one of them wins).
            log.debug("job %d: lease not renewed (moved on, or taken over)", job_id)

    async def orphans(self, states: Sequence[JobState], *, limit: int = 20) -> list[Job]:
        """Jobs in ``states`` that no live process works on, taken over by this one: their
        lease lapsed, or it is our own name's from before a restart (the first pass only:
        later, a job of ours is someone's work here until its lease lapses)."""
        now = self._clock()
        search = frozenset(states)
        own = search not in self._looked
        self._looked.add(search)
        taken: list[Job] = []
        for job in await self._jobs.lapsed(states, now, owner=self.owner if own else None):
            if len(taken) >= limit:
                break
            if job.id in self._working:
                continue
            claimed = await self._jobs.take_lease(job, self.lease(), now)
            if claimed is not None:
                log.info(
                    "job %d taken over in state %s guild=%s attempt=%d (lease of %s)",
                    job.id,
                    job.state.value,
                    job.guild_id,
                    job.attempt,
                    job.lease_owner or "nobody",
                )
                taken.append(claimed)
        return taken
