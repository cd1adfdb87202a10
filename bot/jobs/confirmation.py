"""Confirm before spending: a job that asked for it (the member's option, or the server's
setting) waits, its crop and its estimate on the card, until someone confirms it.

A waiting job (AWAITING_CONFIRMATION) holds no provider slot and is no part of the queue: the
dispatcher reads QUEUED rows only, so nothing is submitted before Confirm. Confirm moves it to
QUEUED through the writer, the quotas checked again in that transaction; Cancel, or no Confirm
by the row's ``confirm_by``, ends it CANCELED with nothing billed. The deadline is on the row,
so a restart, or another process holding the sweep (a duty), decides the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Callable
from datetime import timedelta

from bot.clock import Clock, utcnow
from bot.errors import QuietError, UserFacingError
from bot.jobs.admission import Admission
from bot.jobs.models import Job, JobChanges
from bot.jobs.repository import JobNotFoundError, JobRepository, StaleJobStateError
from bot.jobs.states import JobState
from bot.jobs.writer import JobWriter
from bot.messages import MessageKey, UserMessage

log = logging.getLogger(__name__)

AWAITING = JobState.AWAITING_CONFIRMATION


class ConfirmOutcome(enum.StrEnum):
    """What a Confirm achieved; the edge words it for the member."""

    CONFIRMED = "confirmed"  # queued now
    ALREADY = "already"  # confirmed before (a double click, or someone else)
    ENDED = "ended"  # cancelled, refused or timed out meanwhile: nothing to confirm
    FORBIDDEN = "forbidden"  # only the requester or a server manager may confirm it
    NOT_FOUND = "not_found"


def _settled(job: Job) -> ConfirmOutcome:
    return ConfirmOutcome.ENDED if job.state.is_terminal else ConfirmOutcome.ALREADY


class Confirmation:
    """Decides where a prepared job goes, confirms waiting jobs, and ends the overdue ones."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        writer: JobWriter,
        admission: Admission,
        timeout_seconds: float,
        wake_dispatch: Callable[[], None],
        clock: Clock = utcnow,
    ) -> None:
        self._jobs = jobs
        self._writer = writer
        self._admission = admission
        self._timeout = timedelta(seconds=timeout_seconds)
        self._wake_dispatch = wake_dispatch  # in whichever process dispatches
        self._clock = clock

    @property
    def sweep_seconds(self) -> float:
        """How often the overdue are looked for: a tenth of the timeout, 0.5 s to 10 s."""
        return min(10.0, max(0.5, self._timeout.total_seconds() / 10))

    def entering(self, job: Job, changes: JobChanges) -> tuple[JobState, JobChanges]:
        """Where a prepared job goes with ``changes``: the queue, or, when it asked to be
        confirmed first, waiting for a Confirm until its deadline (not queued yet)."""
        if not job.confirm_first:
            return JobState.QUEUED, changes
        deadline = self._clock() + self._timeout
        return AWAITING, changes.merged(JobChanges(queued_at=None, confirm_by=deadline))

    async def confirm(
        self, job_id: int, *, guild_id: int | None, actor_id: int, actor_manages_server: bool
    ) -> tuple[ConfirmOutcome, Job | None]:
        """Queue ``job_id`` for ``actor_id``, if they may. Raises UserFacingError when its
        server's quotas no longer allow it (the job then ends REJECTED, saying why)."""
        try:
            job = await self._jobs.get(job_id)
        except JobNotFoundError:
            return ConfirmOutcome.NOT_FOUND, None
        if job.guild_id != guild_id:
            return ConfirmOutcome.NOT_FOUND, None  # another server's job is none of theirs
        if actor_id != job.user_id and not actor_manages_server:
            log.info("job %d: confirm by %d refused (not theirs)", job_id, actor_id)
            return ConfirmOutcome.FORBIDDEN, job
        if job.state is not AWAITING:
            return _settled(job), job
        entry = await self._admission.entry(job, job.audio_seconds or 0.0)
        changes = JobChanges(queued_at=self._clock(), estimate_usd=entry.estimate_usd)
        try:
            queued = await self._writer.move(job, JobState.QUEUED, changes, guard=entry.guard)
        except StaleJobStateError:
            current = await self._jobs.get(job_id)
            return _settled(current), current
        except UserFacingError as refusal:
            # The quotas moved while it waited: it ends here, saying why (the member hears it
            # in the channel when someone else pressed Confirm).
            with contextlib.suppress(StaleJobStateError):
                await self._writer.end(
                    job, JobState.REJECTED, refusal.message, tell=actor_id != job.user_id
                )
            raise
        log.info("job %d confirmed by %d", job_id, actor_id)
        self._wake_dispatch()
        return ConfirmOutcome.CONFIRMED, queued

    async def expire_overdue(self) -> int:
        """End every job still waiting past its deadline; return how many were ended."""
        now = self._clock()
        ended = 0
        for job in await self._jobs.in_states((AWAITING,)):
            deadline = job.confirm_by or job.updated_at + self._timeout
            if deadline > now:
                continue
            message = UserMessage(key=MessageKey.CONFIRM_TIMED_OUT, params={"job": job.id})
            try:
                await self._writer.end(job, JobState.CANCELED, message)
            except StaleJobStateError:
                continue  # confirmed or cancelled meanwhile
            log.info("job %d: not confirmed by %s; cancelled", job.id, deadline.isoformat())
            ended += 1
        return ended

    async def run_forever(self) -> None:
        """End the overdue now and every ``sweep_seconds`` (a duty: one process runs it)."""
        while True:
            try:
                await self.expire_overdue()
            except QuietError:
                pass  # the database is away: said once where it happened
            except Exception:
                log.exception("confirmation sweep failed; trying again")
            await asyncio.sleep(self.sweep_seconds)
