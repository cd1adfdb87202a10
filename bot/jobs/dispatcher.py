"""Dispatch: submit queued jobs, in the fair order, while the provider has room.

Holds the submit lock from the SUBMITTING write to the task id's, so a settlement of
crash-cut submits, or a cancel, never sees a submit of ours half done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.jobs.limits import EngineLimits
from bot.jobs.models import Job, JobChanges
from bot.jobs.notices import to_member, uncertain
from bot.jobs.planning import lookahead_open, lookahead_opens_at, pick_next
from bot.jobs.poller import Poller
from bot.jobs.preparation import refusal_for
from bot.jobs.prober import Prober
from bot.jobs.repository import JobRepository, StaleJobStateError
from bot.jobs.states import JobState
from bot.jobs.timeline import IN_FLIGHT, Timeline
from bot.jobs.writer import JobWriter
from bot.messages import MessageKey
from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderInputError, ProviderOperatorError, ProviderTransientError
from bot.retry import Backoff
from bot.tasks import Wakeup

log = logging.getLogger(__name__)


class Dispatcher:
    """Owns the submit lock and the dispatch loop's wake-ups."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        writer: JobWriter,
        client: DashScopeClient,
        prober: Prober,
        timeline: Timeline,
        poller: Poller,
        limits: EngineLimits,
        wakeup: Wakeup,
    ) -> None:
        self._jobs = jobs
        self._writer = writer
        self._client = client
        self._prober = prober
        self._timeline = timeline
        self._poller = poller
        self._limits = limits
        self._wakeup = wakeup
        self._lock = asyncio.Lock()
        self._backoff = Backoff(first=limits.retry_base_delay, cap=limits.retry_max_delay)
        self._rng = random.Random()

    def wake(self) -> None:
        """Look at the queue now (a job was queued, or the provider has room)."""
        self._wakeup.ring()

    @contextlib.asynccontextmanager
    async def submits_held(self) -> AsyncIterator[None]:
        """No submit of ours starts or is half done while the block runs."""
        async with self._lock:
            yield

    async def run_forever(self) -> None:
        while True:
            try:
                wake_at = await self._dispatch_once()
            except Exception:
                # A bug or a database hiccup must not stop every future submission.
                log.exception("dispatcher pass failed; trying again shortly")
                wake_at = None
            timeout = self._limits.rescan_seconds
            if wake_at is not None:
                timeout = min(timeout, max(0.0, (wake_at - utcnow()).total_seconds()))
            await self._wakeup.sleep(timeout)

    async def _dispatch_once(self) -> datetime | None:
        """Submit while there is room; return when to look again (None: when woken)."""
        if await self._prober.paused():
            return None
        limits = self._limits
        window = timedelta(seconds=limits.lookahead_window_seconds)
        while True:
            now = utcnow()
            in_flight = await self._jobs.in_states(IN_FLIGHT)
            ends = self._timeline.expected_ends(in_flight, now)
            # Only each server's oldest eligible job can be next: read those, not the queue.
            heads = await self._jobs.queue_heads(now)
            if not heads:
                return await self._jobs.next_not_before()
            concurrency = limits.provider_concurrency
            if not lookahead_open(
                ends, concurrency=concurrency, lookahead=limits.lookahead, window=window, now=now
            ):
                opens = lookahead_opens_at(ends, concurrency=concurrency, window=window)
                return opens if len(in_flight) < limits.max_in_flight else None
            # Chosen now, at the last moment: a light server's job that just arrived wins.
            fairness = timedelta(seconds=limits.fairness_window_seconds)
            chosen = pick_next(heads, await self._jobs.usage(now - fairness), now)
            if chosen is None or not await self._submit(chosen):
                return None

    async def _submit(self, job: Job) -> bool:
        """Submit one job; False when submitting should stop for now (paused)."""
        image, audio, face, ext = job.image_url, job.audio_url, job.face_box, job.ext_box
        if not (image and audio and face and ext):
            # Checked before SUBMITTING is written: a row left there would wait for a restart.
            log.error("job %d was queued without prepared inputs", job.id)
            failure = to_member(MessageKey.UNEXPECTED, job, reference=f"job-{job.id}")
            await self._writer.end(job, JobState.FAILED, failure)
            return True
        async with self._lock:
            try:
                job = await self._writer.move(
                    job, JobState.SUBMITTING, JobChanges(attempt=job.attempt + 1)
                )
            except StaleJobStateError:
                return True  # another process took it
            return await self._send(job, image, audio, face.as_list(), ext.as_list())

    async def _send(
        self, job: Job, image: str, audio: str, face: list[int], ext: list[int]
    ) -> bool:
        try:
            task_id = await self._client.submit_synthesis(
                image_url=image,
                audio_url=audio,
                face_bbox=face,
                ext_bbox=ext,
                style_level=job.style.value,
            )
        except ProviderInputError as error:
            await self._writer.end(job, JobState.REJECTED, refusal_for(error).message)
            return True
        except ProviderOperatorError as error:
            # Certainly not accepted: the job keeps its place; everyone waits for the operator.
            await self._writer.move(job, JobState.QUEUED, JobChanges(attempt=job.attempt - 1))
            await self._prober.pause(error)
            return False
        except ProviderTransientError as error:
            await self._retry_or_fail(job, error)
            return True
        # Shielded: the task id must reach the row even if we are being cancelled.
        job = await self._writer.move(
            job, JobState.SUBMITTED, JobChanges(task_id=task_id, submitted_at=utcnow())
        )
        self._poller.track(job.id, delay=self._limits.poll_min_seconds)
        return True

    async def _retry_or_fail(self, job: Job, error: ProviderTransientError) -> None:
        if error.maybe_accepted:
            # The provider may have created a task we cannot see: never pay twice.
            await self._writer.end(job, JobState.FAILED, uncertain(job))
            return
        if job.attempt > self._limits.provider_retries or error.should_retry is False:
            await self._writer.end(job, JobState.FAILED, await self._prober.trouble(job, error))
            return
        # At least as long as the provider asked (Retry-After), within the backoff's cap.
        delay = max(self._backoff.delay(job.attempt, self._rng), error.retry_after or 0.0)
        log.warning(
            "job %d submit failed (%s), retry %d in %.1fs",
            job.id,
            error.reference,
            job.attempt,
            delay,
        )
        await self._writer.move(
            job, JobState.QUEUED, JobChanges(not_before=utcnow() + timedelta(seconds=delay))
        )
        if error.code.startswith("Throttling"):
            self._poller.budget.penalize(error.retry_after)
