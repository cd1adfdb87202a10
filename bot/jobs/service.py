"""The animate service: takes requests, runs each job from its row to a posted video."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp

from bot.errors import UserFacingError
from bot.jobs.models import AnimateRequest, Job
from bot.jobs.notifier import DeliveryError, JobNotifier
from bot.jobs.preparation import InputPreparer, refusal_for
from bot.jobs.states import JobState
from bot.jobs.store import JobStore, JobUpdate, StaleJobStateError, utcnow
from bot.media.download import DownloadError, download_to_file
from bot.messages import MessageKey, UserMessage
from bot.provider.client import DashScopeClient, with_retries
from bot.provider.errors import (
    ProviderError,
    ProviderInputError,
    ProviderOperatorError,
    ProviderTransientError,
)
from bot.provider.models import TaskResponse, TaskStatus
from bot.provider.pricing import cost_usd
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

TASK_LIFETIME = timedelta(hours=24)  # the provider forgets task ids and result URLs after this
IN_FLIGHT = (JobState.SUBMITTING, JobState.SUBMITTED)
WAITING = (JobState.QUEUED, *IN_FLIGHT)


@dataclass(frozen=True)
class EngineLimits:
    provider_concurrency: int = 1
    lookahead: int = 1
    poll_min_seconds: float = 2.0
    poll_max_seconds: float = 15.0
    provider_retries: int = 4
    retry_base_delay: float = 1.0
    max_result_bytes: int = 200 * 1024 * 1024
    delivery_attempts: int = 5
    rescan_seconds: float = 5.0  # other processes may add rows: look again even when not woken


@dataclass(frozen=True)
class Accepted:
    """A job that passed every check and waits for the provider."""

    job: Job
    ahead: int


def poll_delays(minimum: float, maximum: float) -> Iterator[float]:
    """The provider SDK's rhythm (1, 1, 2, 2, 2, 4, 4, 4, 5 …) scaled to ``minimum``, capped."""
    for factor in (1, 1, 2, 2, 2, 4, 4, 4):
        yield min(minimum * factor, maximum)
    step = min(minimum * 5, maximum)
    while True:
        yield step
        step = min(step * 1.5, maximum)


def _error_update(message: UserMessage) -> JobUpdate:
    return JobUpdate(
        error_key=message.key.value, error_detail=json.dumps(message.params), finished_at=utcnow()
    )


class AnimateService:
    """Owns the life of every job. Knows nothing of Discord: the edge supplies a JobNotifier."""

    def __init__(
        self,
        *,
        store: JobStore,
        client: DashScopeClient,
        preparer: InputPreparer,
        session: aiohttp.ClientSession,
        limits: EngineLimits,
    ) -> None:
        self._store = store
        self._client = client
        self._preparer = preparer
        self._session = session
        self._limits = limits
        self._notifier: JobNotifier | None = None
        self._tasks = BackgroundTasks()
        self._wake = asyncio.Event()
        self._followed: set[int] = set()
        self._started = False

    @property
    def store(self) -> JobStore:
        return self._store

    def attach_notifier(self, notifier: JobNotifier) -> None:
        self._notifier = notifier

    @property
    def notifier(self) -> JobNotifier:
        if self._notifier is None:
            raise RuntimeError("no JobNotifier attached")
        return self._notifier

    async def start(self) -> None:
        """Resume every unfinished job from its row, then start taking new ones."""
        if self._started:
            return
        self._started = True
        await self._resume()
        self._tasks.spawn(self._dispatch_forever(), name="dispatcher")

    async def close(self) -> None:
        await self._tasks.cancel_all()
        self._started = False

    # -- intake -------------------------------------------------------------------------

    async def request(self, request: AnimateRequest) -> Accepted:
        """Write the job's row, check and prepare its inputs, queue it.

        Raises UserFacingError when the inputs are refused or the provider cannot take them;
        the row then says why. Nothing billable happens here but the face check.
        """
        job = await self._store.create(request)
        job = await self._transition(job, JobState.PREPARING)
        job = await self._prepare(job)
        ahead = await self._ahead_of(job)
        self._wake.set()
        return Accepted(job=job, ahead=ahead)

    async def _prepare(self, job: Job) -> Job:
        try:
            inputs = await self._preparer.prepare(job)
        except UserFacingError as refusal:
            await self._end(job, JobState.REJECTED, refusal.message, notify=False)
            raise
        except ProviderInputError as error:
            provider_refusal = refusal_for(error)
            await self._end(job, JobState.REJECTED, provider_refusal.message, notify=False)
            raise provider_refusal from None
        except ProviderError as error:
            message = self._provider_trouble(job, error)
            await self._end(job, JobState.FAILED, message, notify=False)
            raise UserFacingError(message.key, **message.params) from None
        except asyncio.CancelledError:
            raise  # the row stays PREPARING and is resumed on the next start
        except Exception:
            reference = f"job-{job.id}"
            log.exception("job %d preparation failed unexpectedly", job.id)
            message = UserMessage(key=MessageKey.UNEXPECTED, params={"reference": reference})
            await self._end(job, JobState.FAILED, message, notify=False)
            raise
        return await self._transition(
            job,
            JobState.QUEUED,
            JobUpdate(
                audio_seconds=inputs.audio_seconds,
                image_url=inputs.image_url,
                audio_url=inputs.audio_url,
                face_box=inputs.face_box,
                ext_box=inputs.ext_box,
            ),
        )

    async def _ahead_of(self, job: Job) -> int:
        waiting = await self._store.in_states(WAITING)
        return sum(1 for other in waiting if other.id < job.id)

    # -- dispatch: submit queued jobs while the provider has room --------------------------

    async def _dispatch_forever(self) -> None:
        slots = self._limits.provider_concurrency + self._limits.lookahead
        while True:
            self._wake.clear()
            in_flight = len(await self._store.in_states(IN_FLIGHT))
            queued = await self._store.in_states((JobState.QUEUED,))
            for job in queued[: max(0, slots - in_flight)]:
                await self._submit(job)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._limits.rescan_seconds)

    async def _submit(self, job: Job) -> None:
        try:
            job = await self._transition(
                job, JobState.SUBMITTING, JobUpdate(attempt=job.attempt + 1)
            )
        except StaleJobStateError:
            return  # another process took it
        if not (job.image_url and job.audio_url and job.face_box and job.ext_box):
            raise RuntimeError(f"job {job.id} was queued without prepared inputs")
        image_url, audio_url = job.image_url, job.audio_url
        face, ext = job.face_box.as_list(), job.ext_box.as_list()
        try:
            task_id = await with_retries(
                lambda: self._client.submit_synthesis(
                    image_url=image_url,
                    audio_url=audio_url,
                    face_bbox=face,
                    ext_bbox=ext,
                    style_level=job.style.value,
                ),
                retries=self._limits.provider_retries,
                base_delay=self._limits.retry_base_delay,
            )
        except ProviderInputError as error:
            await self._end(job, JobState.REJECTED, refusal_for(error).message)
            return
        except ProviderTransientError as error:
            if error.maybe_accepted:
                # The provider may have created a task we cannot see: do not pay twice.
                await self._end(job, JobState.FAILED, self._uncertain(job))
            else:
                await self._end(job, JobState.FAILED, self._provider_trouble(job, error))
            return
        except ProviderError as error:
            await self._end(job, JobState.FAILED, self._provider_trouble(job, error))
            return
        # Shielded: the task id must reach the row even if we are being cancelled.
        job = await self._transition(
            job, JobState.SUBMITTED, JobUpdate(task_id=task_id, submitted_at=utcnow())
        )
        self._follow(job)

    # -- follow: poll a submitted task, then deliver ---------------------------------------

    def _follow(self, job: Job) -> None:
        if job.id in self._followed:
            return
        self._followed.add(job.id)
        self._tasks.spawn(self._run_to_end(job), name=f"job-{job.id}")

    async def _run_to_end(self, job: Job) -> None:
        try:
            if job.state is JobState.SUBMITTED:
                job = await self._poll(job)
                self._wake.set()  # a provider slot is free
            if job.state in (JobState.SUCCEEDED, JobState.DELIVERING):
                await self._deliver(job)
        finally:
            self._followed.discard(job.id)

    async def _poll(self, job: Job) -> Job:
        assert job.task_id is not None
        delays = poll_delays(self._limits.poll_min_seconds, self._limits.poll_max_seconds)
        announced_running = False
        while True:
            await asyncio.sleep(next(delays))
            if job.submitted_at is not None and utcnow() - job.submitted_at > TASK_LIFETIME:
                return await self._end(job, JobState.EXPIRED, self._expired(job))
            try:
                task = await self._client.get_task(job.task_id)
            except ProviderError as error:
                # Polling is free and the task lives on: keep trying, at the slow rhythm.
                log.warning("job %d poll failed: %s", job.id, error.code)
                continue
            status = task.output.task_status
            if status is TaskStatus.RUNNING and not announced_running:
                announced_running = True
                await self._changed(job)
            elif status is TaskStatus.SUCCEEDED:
                return await self._succeeded(job, task)
            elif status is TaskStatus.FAILED:
                message = UserMessage(
                    key=MessageKey.RENDER_FAILED,
                    params={"reason": task.output.code or "unknown", **self._who(job)},
                )
                return await self._end(job, JobState.FAILED, message)
            elif status is TaskStatus.CANCELED:
                return await self._end(job, JobState.CANCELED, None)
            elif status is TaskStatus.UNKNOWN:
                return await self._end(job, JobState.EXPIRED, self._expired(job))

    async def _succeeded(self, job: Job, task: TaskResponse) -> Job:
        seconds = task.usage.video_duration if task.usage else None
        if task.video_url is None:
            message = UserMessage(
                key=MessageKey.RENDER_FAILED, params={"reason": "no result", **self._who(job)}
            )
            return await self._end(job, JobState.FAILED, message)
        return await self._transition(
            job,
            JobState.SUCCEEDED,
            JobUpdate(
                result_url=task.video_url,
                video_seconds=seconds,
                cost_usd=cost_usd(seconds, job.framing.value) if seconds is not None else None,
                finished_at=utcnow(),
            ),
        )

    async def _deliver(self, job: Job) -> None:
        if job.state is JobState.SUCCEEDED:
            job = await self._transition(job, JobState.DELIVERING)
        video = self._preparer.job_dir(job.id) / "result.mp4"
        if not video.exists():
            assert job.result_url is not None
            try:
                await download_to_file(
                    self._session,
                    job.result_url,
                    video,
                    max_bytes=self._limits.max_result_bytes,
                    allowed_hosts=None,
                )
            except DownloadError as error:
                log.warning("job %d result download failed: %s", job.id, type(error).__name__)
                await self._end(job, JobState.EXPIRED, self._expired(job))
                return
        await self._post(job, video)

    async def _post(self, job: Job, video: Path) -> None:
        delay = self._limits.retry_base_delay
        for attempt in range(1, self._limits.delivery_attempts + 1):
            try:
                message_id = await self.notifier.deliver_result(job, video)
            except DeliveryError as error:
                log.warning("job %d delivery attempt %d failed: %s", job.id, attempt, error)
                if error.permanent or attempt == self._limits.delivery_attempts:
                    message = UserMessage(key=MessageKey.DELIVERY_FAILED, params=self._who(job))
                    await self._end(job, JobState.FAILED, message)
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            # The message exists now: record it even if we are being cancelled.
            await self._transition(
                job, JobState.DELIVERED, JobUpdate(message_id=message_id, delivered_at=utcnow())
            )
            return

    # -- restart ------------------------------------------------------------------------

    async def _resume(self) -> None:
        unfinished = await self._store.in_states(
            [state for state in JobState if not state.is_terminal and state is not JobState.QUEUED]
        )
        for job in unfinished:
            log.info("resuming job %d in state %s", job.id, job.state.value)
            if job.state in (JobState.RECEIVED, JobState.PREPARING):
                self._tasks.spawn(self._resume_preparation(job), name=f"prepare-{job.id}")
            elif job.state is JobState.SUBMITTING:
                # We died between asking for a task and storing its id: we cannot know
                # whether the provider created one, so never submit it again.
                await self._end(job, JobState.FAILED, self._uncertain(job))
            else:
                self._follow(job)

    async def _resume_preparation(self, job: Job) -> None:
        if job.state is JobState.RECEIVED:
            job = await self._transition(job, JobState.PREPARING)
        try:
            job = await self._prepare(job)
        except UserFacingError as refusal:
            await self.notifier.report_failure(job, refusal.message)
            return
        self._wake.set()

    # -- helpers ------------------------------------------------------------------------

    async def _transition(self, job: Job, target: JobState, update: JobUpdate | None = None) -> Job:
        """Write the new state first, then let the edge show it."""
        moved = await asyncio.shield(self._store.transition(job, target, update))
        await self._changed(moved)
        return moved

    async def _changed(self, job: Job) -> None:
        try:
            await self.notifier.job_changed(job)
        except Exception:
            # Progress display is best effort: it must never stop a job.
            log.exception("job %d progress update failed", job.id)

    async def _end(
        self, job: Job, target: JobState, message: UserMessage | None, *, notify: bool = True
    ) -> Job:
        """Write a terminal state, then tell the member (unless the caller answers them)."""
        update = _error_update(message) if message else JobUpdate(finished_at=utcnow())
        ended = await asyncio.shield(self._store.transition(job, target, update))
        if notify and message is not None:
            try:
                await self.notifier.report_failure(ended, message)
            except Exception:
                log.exception("job %d failure report failed", job.id)
        await self._changed(ended)
        return ended

    @staticmethod
    def _who(job: Job) -> dict[str, str | int | float]:
        return {"mention": f"<@{job.user_id}>", "job": job.id}

    def _uncertain(self, job: Job) -> UserMessage:
        return UserMessage(key=MessageKey.SUBMIT_UNCERTAIN, params=self._who(job))

    def _expired(self, job: Job) -> UserMessage:
        return UserMessage(key=MessageKey.RESULT_EXPIRED, params=self._who(job))

    def _provider_trouble(self, job: Job, error: ProviderError) -> UserMessage:
        if isinstance(error, ProviderOperatorError):
            log.error("provider refused the bot's account (%s): the operator must act", error.code)
            return UserMessage(key=MessageKey.PROVIDER_UNAVAILABLE, params={"job": job.id})
        log.warning("job %d gave up after provider errors: %s", job.id, error.code)
        return UserMessage(key=MessageKey.PROVIDER_BUSY, params={"job": job.id})
