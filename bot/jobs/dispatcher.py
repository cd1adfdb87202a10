"""Dispatch: submit queued jobs, in the fair order, while the provider has room.

A job is claimed together with a free provider slot (``JobRepository.claim``), so however
many processes dispatch, the provider never holds more of our tasks than it has slots.
Holds the submit lock from the SUBMITTING write to the task id's, so a settlement of
crash-cut submits, or a cancel, never sees a submit of ours half done.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.errors import QuietError
from bot.jobs.custody import JobCustody
from bot.jobs.limits import SEND_WITHIN_SECONDS, EngineLimits
from bot.jobs.models import Job, JobChanges
from bot.jobs.notices import to_member, uncertain
from bot.jobs.planning import lookahead_open, lookahead_opens_at, pick_next
from bot.jobs.poller import Poller
from bot.jobs.preparation import refusal_for
from bot.jobs.prober import Prober
from bot.jobs.repository import ClaimView, StaleJobStateError
from bot.jobs.states import JobState
from bot.jobs.timeline import Timeline
from bot.jobs.writer import JobWriter
from bot.messages import MessageKey
from bot.provider.client import DashScopeClient
from bot.provider.errors import (
    ProviderError,
    ProviderInputError,
    ProviderOperatorError,
    ProviderTransientError,
)
from bot.retry import Backoff
from bot.tasks import Wakeup

log = logging.getLogger(__name__)


IdlePeers = Callable[[], Awaitable[dict[str, int]]]
"""The other accounts not paused, with their render concurrency (several accounts)."""
Rehost = Callable[[Job], Awaitable[tuple[str, str]]]
"""Uploads a prepared job's inputs again for the dispatcher's account: image and audio URLs."""


def _prepared(job: Job) -> bool:
    return bool(job.image_url and job.audio_url and job.face_box and job.ext_box)


@dataclass
class _Pick:
    """What the choice inside a claim saw, for the dispatch loop to act on after it."""

    wake_at: datetime | None = None  # when to look again
    unprepared: Job | None = None  # a queued job without its inputs (a bug upstream)


class Dispatcher:
    """Owns the submit lock and the dispatch loop's wake-ups."""

    def __init__(
        self,
        *,
        writer: JobWriter,
        client: DashScopeClient,
        prober: Prober,
        timeline: Timeline,
        poller: Poller,
        limits: EngineLimits,
        custody: JobCustody,
        wakeup: Wakeup,
        rehost: Rehost | None = None,
        own: bool = False,
        idle_peers: IdlePeers | None = None,
        wake_peers: Callable[[], None] | None = None,
    ) -> None:
        self._writer = writer
        self._client = client
        self._prober = prober
        self._timeline = timeline
        self._poller = poller
        self._limits = limits
        self._custody = custody
        self._wakeup = wakeup
        self._rehost = rehost
        self._own = own
        self._idle_peers = idle_peers
        self._wake_peers = wake_peers
        self._window = timedelta(seconds=limits.lookahead_window_seconds)
        self._sends: set[asyncio.Future[bool]] = set()
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
            except QuietError:
                wake_at = None  # the database is away: its layer said so once
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
        while True:
            pick = _Pick()
            try:
                job = await self._writer.claim(
                    limits.account,
                    limits.max_in_flight,
                    functools.partial(self._choose, pick=pick),
                    own=self._own,
                )
            except StaleJobStateError:
                continue  # the chosen job moved meanwhile (a cancel): choose again
            if pick.unprepared is not None:
                await self._unprepared(pick.unprepared)
                continue
            if job is None:
                return pick.wake_at  # None too when no slot is free: a freed one wakes us
            if not await self._submit(job):
                return None

    async def _choose(self, view: ClaimView, pick: _Pick) -> Job | None:
        """Inside the claim: the job to submit now, from the rows as they stand."""
        limits = self._limits
        now = utcnow()
        in_flight = await view.in_flight()
        ends = self._timeline.expected_ends(in_flight, now)
        # Only each server's oldest eligible job can be next: read those, not the queue.
        heads = await view.queue_heads(now)
        if not heads:
            pick.wake_at = await view.next_not_before()
            return None
        concurrency, window = limits.provider_concurrency, self._window
        if not lookahead_open(
            ends, concurrency=concurrency, lookahead=limits.lookahead, window=window, now=now
        ):
            opens = lookahead_opens_at(ends, concurrency=concurrency, window=window)
            pick.wake_at = opens if len(in_flight) < limits.max_in_flight else None
            return None
        # Chosen now, at the last moment: a light server's job that just arrived wins.
        fairness = timedelta(seconds=limits.fairness_window_seconds)
        chosen = pick_next(heads, await view.usage(now - fairness), now)
        idle = chosen is not None and len(in_flight) >= concurrency
        if idle and chosen is not None and await self._peer_is_idle(view, chosen, now):
            # A look-ahead here would leave another account idle: let it take the job, and
            # look again soon (it may have taken another, or be busy again).
            pick.wake_at = now + timedelta(seconds=limits.poll_min_seconds)
            return None
        if chosen is not None and not _prepared(chosen):
            pick.unprepared = chosen
            return None
        return chosen

    async def _peer_is_idle(self, view: ClaimView, job: Job, now: datetime) -> bool:
        """Whether another account, not paused, has a render slot free for ``job``: it goes
        there, to the account with the least load, for a while (that account's dispatcher
        may be in another process, or down: after a lease's time, anyone takes it)."""
        if self._idle_peers is None:
            return False
        if (now - job.updated_at).total_seconds() > self._limits.lease_seconds:
            return False
        loads = await view.loads()
        peers = await self._idle_peers()
        idle = any(loads.get(name, 0) < concurrency for name, concurrency in peers.items())
        if idle and self._wake_peers is not None:
            self._wake_peers()  # those here: a job waits for them
        return idle

    def _foreign(self, job: Job) -> bool:
        account = job.inputs_account
        return self._rehost is not None and account is not None and account != self._limits.account

    async def _bound_here(self, job: Job) -> Job | None:
        """``job`` (claimed) with inputs this account may read: its oss:// links work only
        for the account that uploaded them, so they are uploaded again when that was
        another (the claim is ours: no other account uploads it meanwhile). None: it went
        back to the queue (the upload failed)."""
        assert self._rehost is not None
        try:
            image_url, audio_url = await self._rehost(job)
        except (ProviderError, OSError) as error:
            reference = error.reference if isinstance(error, ProviderError) else repr(error)
            log.warning("job %d: inputs not uploaded for this account (%s)", job.id, reference)
            later = utcnow() + timedelta(seconds=self._limits.retry_base_delay)
            await self._writer.move(
                job, JobState.QUEUED, JobChanges(attempt=job.attempt - 1, not_before=later)
            )
            if isinstance(error, ProviderOperatorError):
                await self._prober.pause(error)
            return None
        changes = JobChanges(
            image_url=image_url, audio_url=audio_url, inputs_account=self._limits.account
        )
        log.info("job %d: inputs uploaded again for account %s", job.id, self._limits.account_label)
        return await self._writer.annotate(job, changes)

    async def _unprepared(self, job: Job) -> None:
        # Refused before SUBMITTING is written: a row left there would wait for settlement.
        log.error("job %d was queued without prepared inputs", job.id)
        failure = to_member(MessageKey.UNEXPECTED, job, reference=f"job-{job.id}")
        with contextlib.suppress(StaleJobStateError):
            await self._writer.end(job, JobState.FAILED, failure)

    async def _submit(self, job: Job) -> bool:
        """Submit one claimed job; False when submitting should stop for now (paused).

        Shielded: a loop cancelled meanwhile (a stop, a duty handed over) lets the request
        and the write of its answer finish; ``drain`` waits for them.
        """
        task = asyncio.ensure_future(self._submit_held(job))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)
        return await asyncio.shield(task)

    async def _submit_held(self, job: Job) -> bool:
        image, audio, face, ext = job.image_url, job.audio_url, job.face_box, job.ext_box
        if not (image and audio and face and ext):  # checked by the claim's choice
            raise RuntimeError(f"job {job.id} was claimed without prepared inputs")
        with self._custody.working(job.id):
            async with self._lock:
                if self._foreign(job):
                    bound = await self._bound_here(job)
                    if bound is None:
                        return not await self._prober.paused()
                    job, image, audio = bound, bound.image_url or image, bound.audio_url or audio
                late = (utcnow() - job.updated_at).total_seconds()
                if late > SEND_WITHIN_SECONDS:
                    # Claimed too long ago: a settlement could start before this request
                    # ends, see no task and requeue the job. Requeue it ourselves, unsent.
                    log.warning(
                        "job %d: claim %.1fs old, not sent; back to the queue", job.id, late
                    )
                    await self._writer.move(
                        job, JobState.QUEUED, JobChanges(attempt=job.attempt - 1)
                    )
                    return True
                return await self._send(job, image, audio, face.as_list(), ext.as_list())

    async def drain(self) -> None:
        """Wait for submits under way (before the database closes)."""
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)

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
            # The provider may have created a task we cannot see: never pay twice, and
            # count its slot as taken for as long as such a task could run.
            hold = JobChanges(slot_held_until=utcnow() + self._timeline.uncertain_hold(job))
            await self._writer.end(job, JobState.FAILED, uncertain(job), changes=hold)
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
