"""Intake: a request becomes a row, its inputs are checked and converted, and it is queued.

Also a retry, which is a new request from a finished job's cached inputs. Nothing billable
happens here but the provider's face check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.clock import utcnow
from bot.db.database import DatabaseUnavailableError
from bot.errors import UserFacingError
from bot.jobs.admission import Admission
from bot.jobs.confirmation import Confirmation
from bot.jobs.custody import JobCustody
from bot.jobs.forecast import Forecaster
from bot.jobs.models import AnimateRequest, Framing, InputRef, Job, JobChanges
from bot.jobs.own_accounts import NoOwnKeys, OwnKeys
from bot.jobs.preparation import InputPreparer, PreparedInputs, refusal_for
from bot.jobs.repository import (
    CapExceededError,
    JobNotFoundError,
    JobRepository,
    RetryPendingError,
    StaleJobStateError,
)
from bot.jobs.states import JobState
from bot.jobs.writer import JobWriter
from bot.media.cache import MediaCache
from bot.messages import MessageKey, UserMessage
from bot.provider.errors import ProviderError, ProviderInputError
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

WATCH_SECONDS = 1.0  # how often a preparation looks whether its job was cancelled meanwhile


class ProviderState(Protocol):
    """The provider as intake sees it: one account's prober, or the accounts' pool."""

    async def paused(self) -> bool: ...

    async def trouble(self, job: Job, error: ProviderError) -> UserMessage: ...


Trouble = Callable[[Job, ProviderError], Awaitable[UserMessage]]
"""What the member hears when preparing failed at the provider (and who is paused)."""


@dataclass(frozen=True)
class Accepted:
    """A job that passed every check and waits for the provider."""

    job: Job
    ahead: int
    paused: bool = False  # the provider account needs the operator: the job keeps its place


class RetryForbiddenError(Exception):
    """Someone other than the requester or a server manager asked for a retry."""


class Intake:
    """Owns the preparations under way that no member is waiting for (resumed ones)."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        writer: JobWriter,
        preparer: InputPreparer,
        admission: Admission,
        prober: ProviderState,
        forecaster: Forecaster,
        cache: MediaCache,
        custody: JobCustody,
        confirmation: Confirmation,
        wake_dispatch: Callable[[], None],
        own_keys: OwnKeys | None = None,
        own_trouble: Trouble | None = None,
    ) -> None:
        self._jobs = jobs
        self._writer = writer
        self._preparer = preparer
        self._admission = admission
        self._prober = prober
        self._forecaster = forecaster
        self._cache = cache
        self._custody = custody
        self._confirmation = confirmation  # queued now, or waiting for a Confirm first
        self._wake_dispatch = wake_dispatch  # in whichever process dispatches
        # Servers that bring their own key: their jobs are pinned to it at intake.
        self._own_keys = own_keys or NoOwnKeys()
        self._own_trouble = own_trouble
        self._tasks = BackgroundTasks()
        # At most EMO_MAX_PREPARATIONS at once; the others wait in RECEIVED.
        self._preparing = asyncio.Semaphore(preparer.max_preparations)

    async def close(self) -> None:
        await self._tasks.cancel_all()
        await self._preparer.close()

    async def request(self, request: AnimateRequest) -> Accepted:
        """Write the job's row, check and prepare its inputs, queue it.

        Raises UserFacingError when a cap is reached, the inputs are refused or the provider
        cannot take them; the row (if any) then says why.
        """
        self._preparer.refuse_declared(request)
        caps = await self._admission.caps(request.guild_id, request.user_id)
        guild = request.guild_id
        own = await self._own_keys.pinned_account(guild) if guild is not None else None
        try:
            job = await self._writer.create(request, caps, own)
        except RetryPendingError as pending:
            raise UserFacingError(MessageKey.RETRY_PENDING, job=pending.job_id) from None
        except CapExceededError as cap:
            key = MessageKey.MEMBER_BUSY if cap.scope == "member" else MessageKey.SERVER_QUEUE_FULL
            raise UserFacingError(key, count=cap.count, limit=cap.limit) from None
        try:
            with self._custody.working(job.id):
                job = await self._prepare(job)
            self._wake_dispatch()
            paused = await self._prober.paused()
            return Accepted(job=job, ahead=await self._forecaster.ahead_of(job), paused=paused)
        except DatabaseUnavailableError:
            # The row exists: once its lease lapses, this process or another resumes it.
            log.warning("job %d: intake cut short by the database; it resumes later", job.id)
            raise UserFacingError(MessageKey.JOB_DELAYED, job=job.id) from None

    def resume(self, job: Job) -> None:
        """Prepare a job again after a restart (RECEIVED or PREPARING); the outcome is told
        in the channel, since nobody waits for an answer."""
        self._tasks.spawn(self._resume(job), name=f"prepare-{job.id}")

    async def _resume(self, job: Job) -> None:
        with self._custody.working(job.id):
            try:
                await self._prepare(job, tell=True)
            except UserFacingError:
                return  # the refusal reached the member through the job's notice
            except StaleJobStateError:
                return  # another process (or a cancel) moved it first
            except DatabaseUnavailableError:
                log.warning("job %d: preparation cut short by the database; resumes later", job.id)
                return  # its lease lapses, and it is taken over again
        self._wake_dispatch()

    async def _prepare(self, job: Job, *, tell: bool = False) -> Job:
        """Wait for a free preparer (a new job stays RECEIVED meanwhile), then prepare."""
        try:
            if self._preparing.locked():
                # Every preparer is busy: the row (and so the card) says the job waits its turn.
                job = await self._writer.annotate(job, JobChanges(waiting_since=utcnow()))
            async with self._preparing:
                began = JobChanges(waiting_since=None) if job.waiting_since else None
                if job.state is JobState.RECEIVED:
                    job = await self._writer.move(job, JobState.PREPARING, began)
                elif began is not None:
                    job = await self._writer.annotate(job, began)
                return await self._prepare_or_refuse(job, tell)
        except StaleJobStateError:
            # The row left PREPARING under us: the member cancelled it meanwhile.
            current = await self._jobs.get(job.id)
            log.info("job %d preparation ended: the row is %s now", job.id, current.state.value)
            raise UserFacingError(MessageKey.CANCELED, job=job.id) from None

    async def _prepare_or_refuse(self, job: Job, tell: bool) -> Job:
        """Prepare and queue ``job``; a refusal ends it (REJECTED or FAILED) and is raised."""
        try:
            inputs = await self._watched(job)
            entry = await self._admission.entry(job, inputs.audio_seconds)
            # The quotas are checked in the same transaction that queues the job.
            target, changes = self._confirmation.entering(job, inputs.queued(entry.estimate_usd))
            return await self._writer.move(job, target, changes, guard=entry.guard)
        except UserFacingError as refusal:
            await self._writer.end(job, JobState.REJECTED, refusal.message, tell=tell)
            raise
        except ProviderInputError as error:
            provider_refusal = refusal_for(error)
            await self._writer.end(job, JobState.REJECTED, provider_refusal.message, tell=tell)
            raise provider_refusal from None
        except ProviderError as error:
            if job.own_account is not None and self._own_trouble is not None:
                message = await self._own_trouble(job, error)
            else:
                message = await self._prober.trouble(job, error)
            await self._writer.end(job, JobState.FAILED, message, tell=tell)
            raise UserFacingError(message.key, **message.params) from None
        except (asyncio.CancelledError, StaleJobStateError, DatabaseUnavailableError):
            # The row stays PREPARING: resumed on the next start, or once the database is
            # back and the job's lease lapsed.
            raise
        except Exception:
            log.exception("job %d preparation failed unexpectedly", job.id)
            message = UserMessage(key=MessageKey.UNEXPECTED, params={"reference": f"job-{job.id}"})
            await self._writer.end(job, JobState.FAILED, message, tell=tell)
            raise

    async def _watched(self, job: Job) -> PreparedInputs:
        """The job's inputs, prepared; the work stops (its media workers killed) as soon as
        the row leaves PREPARING: a cancel, in this process or another."""
        try:
            async with asyncio.TaskGroup() as group:
                work = group.create_task(self._preparer.prepare(job))
                group.create_task(self._watch(job.id, work))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return work.result()

    async def _watch(self, job_id: int, work: asyncio.Task[PreparedInputs]) -> None:
        while True:
            done, _ = await asyncio.wait({work}, timeout=WATCH_SECONDS)
            if done:
                return
            try:
                row = await self._jobs.get(job_id)
            except DatabaseUnavailableError:
                continue  # no news: the preparation's own writes will tell
            if row.state is not JobState.PREPARING:
                raise StaleJobStateError(job_id, JobState.PREPARING)

    async def retry(
        self,
        job_id: int,
        *,
        guild_id: int | None,
        actor_id: int,
        actor_manages_server: bool,
        framing: Framing | None = None,
    ) -> Accepted:
        """Run a finished job again with the same inputs, for the same member (``framing``:
        at another framing, as a half-body refusal offers).

        Only for the job's own server: another server's job is "not found" (a crafted button
        must not make one server pay for another's). Raises RetryForbiddenError for anyone
        but the requester or a server manager, and UserFacingError when the job is still
        running, a retry of it is on its way, its inputs are gone, or a cap is reached.
        """
        try:
            original = await self._jobs.get(job_id)
        except JobNotFoundError:
            raise UserFacingError(MessageKey.JOB_NOT_FOUND, job=job_id) from None
        if original.guild_id != guild_id:
            log.warning("job %d: retry from server %s refused (not its server)", job_id, guild_id)
            raise UserFacingError(MessageKey.JOB_NOT_FOUND, job=job_id)
        if actor_id != original.user_id and not actor_manages_server:
            raise RetryForbiddenError(job_id)
        if not original.state.is_terminal:
            raise UserFacingError(MessageKey.RETRY_NOT_FINISHED, job=original.id)
        first = original.retry_of or original.id
        if not await asyncio.to_thread(self._cache.has_inputs, first):
            raise UserFacingError(MessageKey.RETRY_INPUTS_GONE, job=original.id)
        request = AnimateRequest(
            guild_id=original.guild_id,
            channel_id=original.channel_id,
            user_id=original.user_id,
            locale=original.locale,
            image=InputRef(url=original.image_source_url, declared_size=0),
            audio=InputRef(url=original.audio_source_url, declared_size=0),
            style=original.style,
            framing=framing or original.framing,
            trim=original.trim_audio,
            upload_limit_bytes=original.upload_limit_bytes,
            deliver_dm=original.deliver_dm,
            confirm_first=original.confirm_first,
            # Every retry points at the first job: its folder holds the inputs, and one
            # pending retry per original is the rule.
            retry_of=first,
            requested_by=actor_id,
        )
        log.info("job %d retried by %d", original.id, actor_id)
        return await self.request(request)
