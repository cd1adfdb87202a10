"""Recovery on start: every unfinished job carries on from its row.

RECEIVED and PREPARING are prepared again; SUBMITTING is settled from the provider's task
list; SUBMITTED is polled; SUCCEEDED and DELIVERING are delivered (with the same nonce).
QUEUED needs nothing: the dispatcher reads the queue.
"""

from __future__ import annotations

import logging

from bot.jobs.delivery import Delivery
from bot.jobs.intake import Intake
from bot.jobs.poller import Poller
from bot.jobs.repository import JobRepository
from bot.jobs.settlement import Settlement
from bot.jobs.states import JobState
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

RESUMED = [state for state in JobState if not state.is_terminal and state is not JobState.QUEUED]


class Recovery:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        intake: Intake,
        settlement: Settlement,
        poller: Poller,
        delivery: Delivery,
    ) -> None:
        self._jobs = jobs
        self._intake = intake
        self._settlement = settlement
        self._poller = poller
        self._delivery = delivery
        self._tasks = BackgroundTasks()

    async def resume(self) -> int:
        """Hand every unfinished job to the part that carries it on; return how many."""
        unfinished = await self._jobs.in_states(RESUMED)
        submitting = []
        for job in unfinished:
            log.info("resuming job %d in state %s", job.id, job.state.value)
            if job.state in (JobState.RECEIVED, JobState.PREPARING):
                self._intake.resume(job)
            elif job.state is JobState.SUBMITTING:
                submitting.append(job)
            elif job.state is JobState.SUBMITTED:
                self._poller.track(job.id, delay=0)
            else:
                self._delivery.soon(job)
        if submitting:
            self._tasks.spawn(self._settlement.settle(submitting), name="settle-submits")
        return len(unfinished)

    async def close(self) -> None:
        await self._tasks.cancel_all()
