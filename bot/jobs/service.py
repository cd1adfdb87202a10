"""The animate service: takes requests, runs each job from its row to a posted video.

Three loops share the work: the dispatcher submits queued jobs fairly while the provider has
room, one poller watches every task in flight within a query budget, and a prober watches a
paused provider account. Each job's delivery runs in its own tracked task.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import json
import logging
import random
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bot.errors import UserFacingError
from bot.guilds.admission import Admission, QuotaExceededError
from bot.jobs.budget import QueryBudget
from bot.jobs.gate import ProviderGate
from bot.jobs.models import AnimateRequest, InputRef, Job
from bot.jobs.notifier import DeliveryError, JobNotifier
from bot.jobs.planning import (
    DurationModel,
    PollPlan,
    Usage,
    expected_ends,
    forecast_ready,
    lookahead_open,
    lookahead_opens_at,
    next_poll_delay,
    pick_next,
)
from bot.jobs.preparation import InputPreparer, refusal_for
from bot.jobs.states import JobState
from bot.jobs.status import Spot
from bot.jobs.store import (
    CapExceededError,
    Caps,
    JobStore,
    JobUpdate,
    RetryPendingError,
    StaleJobStateError,
    utcnow,
)
from bot.media.download import DownloadError, download_to_file
from bot.messages import MessageKey, Param, UserMessage
from bot.provider.client import DashScopeClient
from bot.provider.errors import (
    ProviderError,
    ProviderInputError,
    ProviderOperatorError,
    ProviderTransientError,
)
from bot.provider.models import SYNTHESIS_MODEL, TaskResponse, TaskStatus
from bot.provider.pricing import DEFAULT_PRICES, Prices
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

TASK_LIFETIME = timedelta(hours=24)  # the provider forgets task ids and result URLs after this
NONCE_WINDOW = timedelta(minutes=4)  # Discord deduplicates a nonce for "a few minutes"
IN_FLIGHT = (JobState.SUBMITTING, JobState.SUBMITTED)
PROBE_TASK_ID = "emo-bot-account-probe"
RECONCILE_MARGIN_SECONDS = 10.0  # clock skew between us and the provider, with room to spare


@dataclass(frozen=True)
class EngineLimits:
    provider_concurrency: int = 1
    lookahead: int = 1
    lookahead_window_seconds: float = 20.0
    poll_min_seconds: float = 2.0
    poll_max_seconds: float = 15.0
    query_budget_per_second: float = 10.0
    provider_retries: int = 4
    retry_base_delay: float = 2.0
    retry_max_delay: float = 300.0
    max_result_bytes: int = 200 * 1024 * 1024
    delivery_attempts: int = 5
    render_seconds_per_audio_second: float = 8.5
    stuck_task_seconds: float = 3 * 3600.0
    probe_interval_seconds: float = 60.0
    max_active_per_member: int | None = 2
    max_queued_per_server: int | None = 20
    submit_timeout_seconds: float = 60.0
    fairness_window_seconds: float = 3600.0
    rescan_seconds: float = 5.0  # other processes may add rows: look again even when not woken


@dataclass(frozen=True)
class Accepted:
    """A job that passed every check and waits for the provider."""

    job: Job
    ahead: int
    paused: bool = False  # the provider account needs the operator: the job keeps its place


class CancelOutcome(enum.StrEnum):
    """What a cancel request achieved; the edge words it for the member."""

    REMOVED = "removed"  # it never reached the provider: nothing is billed
    CANCELED = "canceled"  # cancelled at the provider while it waited there: nothing is billed
    RUNNING = "running"  # already rendering: it cannot be stopped and will be billed
    FINISHED = "finished"  # already over (or being posted)
    FORBIDDEN = "forbidden"  # only the requester or a server manager may cancel it
    NOT_FOUND = "not_found"


class RetryForbiddenError(Exception):
    """Someone other than the requester or a server manager asked for a retry."""


def _error_update(message: UserMessage) -> JobUpdate:
    return JobUpdate(
        error_key=message.key.value, error_detail=json.dumps(message.params), finished_at=utcnow()
    )


def _who(job: Job) -> dict[str, Param]:
    return {"mention": f"<@{job.user_id}>", "job": job.id}


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
        admission: Admission | None = None,
    ) -> None:
        self._store = store
        # Per-server caps, quotas and budget (bot/guilds); None: EngineLimits' caps only.
        self._admission = admission
        self._prices: Prices = admission.prices if admission is not None else DEFAULT_PRICES
        self._client = client
        self._preparer = preparer
        self._session = session
        self._limits = limits
        self._gate = ProviderGate(store)
        self.budget = QueryBudget(limits.query_budget_per_second)
        self._poll_plan = PollPlan(limits.poll_min_seconds, limits.poll_max_seconds)
        self._notifier: JobNotifier | None = None
        self._tasks = BackgroundTasks()
        self._dispatch_wake = asyncio.Event()
        self._poll_wake = asyncio.Event()
        self._probe_wake = asyncio.Event()
        self._poll_queue: list[tuple[datetime, int]] = []
        self._polled: dict[int, int] = {}  # job id -> polls since the expected end passed
        self._delivering: set[int] = set()
        self._warned_slow: set[int] = set()
        self._rng = random.Random()
        self._model = DurationModel(rate=limits.render_seconds_per_audio_second)
        self._ends: dict[int, datetime] = {}
        self._provider_free_at: datetime | None = None  # when the last finished task ended
        self._writes: set[asyncio.Future[Job]] = set()
        self._submit_lock = asyncio.Lock()
        self._started = False

    @property
    def store(self) -> JobStore:
        return self._store

    @property
    def gate(self) -> ProviderGate:
        return self._gate

    @property
    def durations(self) -> DurationModel:
        return self._model

    def wake(self) -> None:
        """Look at the queue now (a row was added from outside the service)."""
        self._dispatch_wake.set()

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
        await self._learn()
        await self._resume()
        self._tasks.spawn(self._dispatch_forever(), name="dispatcher")
        self._tasks.spawn(self._poll_forever(), name="poller")
        self._tasks.spawn(self._probe_forever(), name="prober")

    async def close(self) -> None:
        """Stop every loop; let row writes already under way finish before the store closes."""
        await self._tasks.cancel_all()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        self._started = False

    # -- intake -------------------------------------------------------------------------

    async def request(self, request: AnimateRequest) -> Accepted:
        """Write the job's row, check and prepare its inputs, queue it.

        Raises UserFacingError when a cap is reached, the inputs are refused or the provider
        cannot take them; the row (if any) then says why. Nothing billable happens here but
        the face check.
        """
        caps = (
            await self._admission.intake(request.guild_id, request.user_id)
            if self._admission is not None
            else Caps(
                active_per_member=self._limits.max_active_per_member,
                queued_per_server=self._limits.max_queued_per_server,
            )
        )
        try:
            job = await self._store.create(request, caps)
        except RetryPendingError as pending:
            raise UserFacingError(MessageKey.RETRY_PENDING, job=pending.job_id) from None
        except CapExceededError as cap:
            key = MessageKey.MEMBER_BUSY if cap.scope == "member" else MessageKey.SERVER_QUEUE_FULL
            raise UserFacingError(key, count=cap.count, limit=cap.limit) from None
        job = await self._transition(job, JobState.PREPARING)
        job = await self._prepare(job)
        self._dispatch_wake.set()
        paused = await self._gate.current() is not None
        return Accepted(job=job, ahead=await self.ahead_of(job), paused=paused)

    async def _prepare(self, job: Job) -> Job:
        try:
            return await self._prepare_or_refuse(job)
        except StaleJobStateError:
            # The row left PREPARING under us: the member cancelled it meanwhile.
            current = await self._store.get(job.id)
            log.info("job %d preparation ended: the row is %s now", job.id, current.state.value)
            raise UserFacingError(MessageKey.CANCELED, job=job.id) from None

    async def _prepare_or_refuse(self, job: Job) -> Job:
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
            message = await self._provider_trouble(job, error)
            await self._end(job, JobState.FAILED, message, notify=False)
            raise UserFacingError(message.key, **message.params) from None
        except asyncio.CancelledError:
            raise  # the row stays PREPARING and is resumed on the next start
        except Exception:
            log.exception("job %d preparation failed unexpectedly", job.id)
            message = UserMessage(key=MessageKey.UNEXPECTED, params={"reference": f"job-{job.id}"})
            await self._end(job, JobState.FAILED, message, notify=False)
            raise
        if self._admission is None:
            return await self._transition(job, JobState.QUEUED, inputs.queued_update())
        try:
            # The quotas are checked in the same transaction that queues the job.
            queued = await self._write(self._admission.queue(job, inputs.queued_update()))
        except QuotaExceededError as refusal:
            await self._end(job, JobState.REJECTED, refusal.message, notify=False)
            raise
        await self._changed(queued)
        return queued

    async def ahead_of(self, job: Job) -> int:
        """How many jobs go to the provider before ``job``."""
        spot = (await self.forecast()).get(job.id)
        return spot.ahead if spot else 0

    async def forecast(self) -> dict[int, Spot]:
        """Every waiting job's place and expected ready time: the tasks in flight first,
        then the queue in the order the fair share will take it."""
        now = utcnow()
        in_flight = await self._store.in_states(IN_FLIGHT)
        ends = self._expected_ends(in_flight, now)
        spots = {job.id: Spot(ahead=0, ready_at=ends.get(job.id)) for job in in_flight}
        queued = [j.model_copy(update={"not_before": None}) for j in await self._queued()]
        order: list[Job] = []
        usage = await self._usage(now)
        while queued:
            chosen = pick_next(queued, usage, now)
            if chosen is None:
                break
            order.append(chosen)
            usage = usage.served(chosen.guild_id, now + timedelta(seconds=len(order)))
            queued.remove(chosen)
        ready = forecast_ready(order, ends, self._model, self._limits.provider_concurrency, now)
        for place, job in enumerate(order):
            spots[job.id] = Spot(ahead=len(in_flight) + place, ready_at=ready.get(job.id))
        return spots

    async def _queued(self) -> list[Job]:
        return await self._store.in_states((JobState.QUEUED,))

    async def _usage(self, now: datetime) -> Usage:
        window = timedelta(seconds=self._limits.fairness_window_seconds)
        return await self._store.usage(now - window)

    # -- member actions: cancel and retry ------------------------------------------------

    async def cancel(
        self, job_id: int, *, guild_id: int | None, actor_id: int, actor_manages_server: bool
    ) -> tuple[CancelOutcome, Job | None]:
        """Stop a job if it can still be stopped without a charge.

        Waiting with us: removed at once. Waiting at the provider (PENDING): cancelled there
        first, and only then marked cancelled. Rendering: never shown as cancelled, since it
        runs on and is billed; it is still delivered.
        """
        try:
            job = await self._store.get(job_id)
        except KeyError:
            return CancelOutcome.NOT_FOUND, None
        if job.guild_id != guild_id:
            return CancelOutcome.NOT_FOUND, None  # another server's job is none of theirs
        if actor_id != job.user_id and not actor_manages_server:
            return CancelOutcome.FORBIDDEN, job
        for _ in range(10):  # the row may move under us (the dispatcher, another process)
            try:
                outcome = await self._cancel_once(job)
            except StaleJobStateError:
                outcome = None
            job = await self._store.get(job_id)
            if outcome is None and job.state is JobState.CANCELED:
                # Someone else (the poller, another process) wrote it first.
                outcome = CancelOutcome.CANCELED if job.task_id else CancelOutcome.REMOVED
            if outcome is not None:
                log.info("job %d cancel by %d: %s", job.id, actor_id, outcome.value)
                return outcome, job
            await asyncio.sleep(0.2)
        return CancelOutcome.RUNNING if job.state in IN_FLIGHT else CancelOutcome.FINISHED, job

    async def _cancel_once(self, job: Job) -> CancelOutcome | None:
        """One try at cancelling ``job`` as its row stands; None: look at the row again."""
        if job.state in (JobState.RECEIVED, JobState.PREPARING, JobState.QUEUED):
            await self._end(job, JobState.CANCELED, None)
            self._dispatch_wake.set()
            return CancelOutcome.REMOVED
        if job.state is JobState.SUBMITTING:
            # Our own submit holds the lock until the task id is stored: wait for it.
            async with self._submit_lock:
                return None
        if job.state is not JobState.SUBMITTED:
            return CancelOutcome.FINISHED
        assert job.task_id is not None
        if job.started_at is None:
            try:
                await self._client.cancel_task(job.task_id)
            except ProviderError as error:
                # Refused: it started meanwhile (or finished). The poll below says which.
                log.info("job %d: the provider refused the cancel (%s)", job.id, error.code)
            else:
                await self._end(job, JobState.CANCELED, None)
                self._dispatch_wake.set()
                return CancelOutcome.CANCELED
        try:
            task = await self._client.get_task(job.task_id)
        except ProviderError:
            task = None
        if task is not None and task.output.task_status is TaskStatus.PENDING:
            return None  # the refusal was a hiccup: try again
        await self._store.annotate(job, JobUpdate(cancel_requested_at=utcnow()))
        if task is not None and task.output.task_status is not TaskStatus.RUNNING:
            self._track(job, delay=0)  # it ended: let the poller take it from here
            return CancelOutcome.FINISHED
        return CancelOutcome.RUNNING

    async def retry(self, job_id: int, *, actor_id: int, actor_manages_server: bool) -> Accepted:
        """Run a finished job again with the same inputs, for the same member.

        Raises RetryForbiddenError for anyone but the requester or a server manager, and
        UserFacingError when the job is still running, a retry of it is already on its way,
        its inputs have left the cache, or a cap is reached.
        """
        original = await self._store.get(job_id)
        if actor_id != original.user_id and not actor_manages_server:
            raise RetryForbiddenError(job_id)
        if not original.state.is_terminal:
            raise UserFacingError(MessageKey.RETRY_NOT_FINISHED, job=original.id)
        first = original.retry_of or original.id
        if not await asyncio.to_thread(self._preparer.has_cached_inputs, first):
            raise UserFacingError(MessageKey.RETRY_INPUTS_GONE, job=original.id)
        request = AnimateRequest(
            guild_id=original.guild_id,
            channel_id=original.channel_id,
            user_id=original.user_id,
            locale=original.locale,
            image=InputRef(url=original.image_source_url, declared_size=0),
            audio=InputRef(url=original.audio_source_url, declared_size=0),
            style=original.style,
            framing=original.framing,
            trim=original.trim_audio,
            upload_limit_bytes=original.upload_limit_bytes,
            deliver_dm=original.deliver_dm,
            # Every retry points at the first job: its folder holds the inputs, and one
            # pending retry per original is the rule.
            retry_of=first,
            requested_by=actor_id,
        )
        log.info("job %d retried by %d", original.id, actor_id)
        return await self.request(request)

    # -- dispatch: submit queued jobs fairly while the provider has room ----------------

    async def _dispatch_forever(self) -> None:
        while True:
            self._dispatch_wake.clear()
            try:
                wake_at = await self._dispatch_once()
            except Exception:
                # A bug or a database hiccup must not stop every future submission.
                log.exception("dispatcher pass failed; trying again shortly")
                wake_at = None
            timeout = self._limits.rescan_seconds
            if wake_at is not None:
                timeout = min(timeout, max(0.0, (wake_at - utcnow()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dispatch_wake.wait(), timeout=timeout)

    async def _dispatch_once(self) -> datetime | None:
        """Submit while there is room; return when to look again (None: when woken)."""
        if await self._gate.current() is not None:
            return None
        while True:
            now = utcnow()
            in_flight = await self._store.in_states(IN_FLIGHT)
            ends = self._expected_ends(in_flight, now)
            window = timedelta(seconds=self._limits.lookahead_window_seconds)
            # Only each server's oldest eligible job can be next: read those, not the queue.
            heads = await self._store.queue_heads(now)
            if not heads:
                return await self._store.next_not_before()
            if not lookahead_open(
                ends,
                concurrency=self._limits.provider_concurrency,
                lookahead=self._limits.lookahead,
                window=window,
                now=now,
            ):
                opens = lookahead_opens_at(
                    ends, concurrency=self._limits.provider_concurrency, window=window
                )
                return opens if len(in_flight) < self._cap_in_flight else None
            # Chosen now, at the last moment: a light server's job that just arrived wins.
            chosen = pick_next(heads, await self._usage(now), now)
            if chosen is None or not await self._submit(chosen):
                return None

    def _expected_ends(self, in_flight: list[Job], now: datetime) -> dict[int, datetime]:
        return expected_ends(
            in_flight,
            self._model,
            self._limits.provider_concurrency,
            now,
            provider_free_at=self._provider_free_at,
        )

    @property
    def _cap_in_flight(self) -> int:
        return self._limits.provider_concurrency + self._limits.lookahead

    async def _submit(self, job: Job) -> bool:
        """Submit one job; False when submitting should stop for now (paused).

        Holds the submit lock from the SUBMITTING write to the task id's: while a settlement
        of crash-cut submits lists the provider's tasks, no submit of ours is half done.
        """
        async with self._submit_lock:
            return await self._submit_locked(job)

    async def _submit_locked(self, job: Job) -> bool:
        try:
            job = await self._store.transition(
                job, JobState.SUBMITTING, JobUpdate(attempt=job.attempt + 1)
            )
        except StaleJobStateError:
            return True  # another process took it
        if not (job.image_url and job.audio_url and job.face_box and job.ext_box):
            raise RuntimeError(f"job {job.id} was queued without prepared inputs")
        try:
            task_id = await self._client.submit_synthesis(
                image_url=job.image_url,
                audio_url=job.audio_url,
                face_bbox=job.face_box.as_list(),
                ext_bbox=job.ext_box.as_list(),
                style_level=job.style.value,
            )
        except ProviderInputError as error:
            await self._end(job, JobState.REJECTED, refusal_for(error).message)
            return True
        except ProviderOperatorError as error:
            # Certainly not accepted: the job keeps its place; everyone waits for the operator.
            await self._store.transition(job, JobState.QUEUED, JobUpdate(attempt=job.attempt - 1))
            await self._pause(error)
            return False
        except ProviderTransientError as error:
            await self._retry_or_fail(job, error)
            return True
        # Shielded: the task id must reach the row even if we are being cancelled.
        job = await self._transition(
            job, JobState.SUBMITTED, JobUpdate(task_id=task_id, submitted_at=utcnow())
        )
        self._track(job, delay=self._limits.poll_min_seconds)
        return True

    async def _retry_or_fail(self, job: Job, error: ProviderTransientError) -> None:
        if error.maybe_accepted:
            # The provider may have created a task we cannot see: never pay twice.
            await self._end(job, JobState.FAILED, self._uncertain(job))
            return
        if job.attempt > self._limits.provider_retries:
            await self._end(job, JobState.FAILED, await self._provider_trouble(job, error))
            return
        delay = min(
            self._limits.retry_base_delay * 2 ** (job.attempt - 1), self._limits.retry_max_delay
        ) * self._rng.uniform(0.8, 1.2)
        log.warning(
            "job %d submit failed (%s), retry %d in %.1fs",
            job.id,
            error.code,
            job.attempt,
            delay,
        )
        await self._store.transition(
            job, JobState.QUEUED, JobUpdate(not_before=utcnow() + timedelta(seconds=delay))
        )
        if error.code.startswith("Throttling"):
            self.budget.penalize()

    # -- the provider gate ----------------------------------------------------------------

    async def _pause(self, error: ProviderError) -> None:
        if await self._gate.pause(error.code, error.message):
            await self._alert(
                f"DashScope refused the bot's account ({error.code}: {error.message}). "
                "Submissions are paused for every server and jobs keep their place. Fix the "
                "account (key, region, balance, entitlement); the bot probes it and resumes."
            )
        self._probe_wake.set()

    async def resume_provider(self, reason: str) -> bool:
        """Lift an operator pause (an admin said so, or a probe passed)."""
        resumed = await self._gate.resume(reason)
        self._dispatch_wake.set()
        return resumed

    async def _probe_forever(self) -> None:
        """While paused, check the account now and then; resume when it answers again."""
        delay = self._limits.probe_interval_seconds
        while True:
            pause = await self._gate.current()
            if pause is None:
                delay = self._limits.probe_interval_seconds
                self._probe_wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._probe_wake.wait(), self._limits.rescan_seconds)
                continue
            await asyncio.sleep(delay)
            await self._gate.record_probe(pause)
            try:
                await self._client.get_task(PROBE_TASK_ID)
            except ProviderError as error:
                log.info("provider probe: still refused (%s)", error.code)
                delay = min(delay * 2, 30 * 60.0)
                continue
            # The key works again. A billing problem only shows on submit: if it is still
            # there, the next submit pauses again, and the probes go on at a slower pace.
            await self.resume_provider(f"probe passed after {pause.code}")
            delay = min(delay * 2, 30 * 60.0)

    # -- polling: one loop for every task in flight ---------------------------------------

    def _track(self, job: Job, *, delay: float) -> None:
        due = utcnow() + timedelta(seconds=delay)
        heapq.heappush(self._poll_queue, (due, job.id))
        self._poll_wake.set()

    async def _poll_forever(self) -> None:
        while True:
            self._poll_wake.clear()
            if not self._poll_queue:
                await self._poll_wake.wait()
                continue
            due, job_id = self._poll_queue[0]
            wait = (due - utcnow()).total_seconds()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poll_wake.wait(), timeout=wait)
                continue
            heapq.heappop(self._poll_queue)
            await self.budget.acquire()
            try:
                await self._poll(job_id)
            except StaleJobStateError:
                log.info("job %d moved while it was polled (a cancel)", job_id)
            except Exception:
                log.exception("job %d poll failed unexpectedly; polling it again later", job_id)
                self._track_id(job_id, self._limits.poll_max_seconds)

    def _track_id(self, job_id: int, delay: float) -> None:
        heapq.heappush(self._poll_queue, (utcnow() + timedelta(seconds=delay), job_id))

    async def _poll(self, job_id: int) -> None:
        job = await self._store.get(job_id)
        if job.state is not JobState.SUBMITTED or job.task_id is None:
            self._polled.pop(job_id, None)
            return
        now = utcnow()
        if job.submitted_at is not None and now - job.submitted_at > TASK_LIFETIME:
            await self._end(job, JobState.EXPIRED, self._expired(job))
            return
        try:
            task = await self._client.get_task(job.task_id)
        except ProviderError as error:
            # Polling is free and the task lives on: keep trying, at the slow rhythm.
            if error.status == 429 or error.code.startswith("Throttling"):
                self.budget.penalize()
            log.warning("job %d poll failed: %s", job.id, error.code)
            self._track(job, delay=self._limits.poll_max_seconds)
            return
        self.budget.succeeded()
        output = task.output
        status = output.task_status
        if status in (TaskStatus.PENDING, TaskStatus.RUNNING):
            if status is TaskStatus.RUNNING and job.started_at is None:
                started = output.started_at or now
                job = await self._store.annotate(job, JobUpdate(started_at=started))
                # Its end is now known better, and so is when the look-ahead should go.
                await self._refresh_ends()
                self._dispatch_wake.set()
                await self._changed(job)
            if await self._watchdog(job, status):
                return
            self._plan_next_poll(job)
            return
        self._polled.pop(job.id, None)
        ended = output.ended_at or now
        if self._provider_free_at is None or ended > self._provider_free_at:
            self._provider_free_at = ended
        if status is TaskStatus.SUCCEEDED:
            job = await self._succeeded(job, task)
            self._dispatch_wake.set()  # a provider slot is free
            if job.state is JobState.SUCCEEDED:
                self._deliver_soon(job)
            return
        self._dispatch_wake.set()
        if status is TaskStatus.FAILED:
            reason = output.code or "unknown"
            message = UserMessage(
                key=MessageKey.RENDER_FAILED, params={"reason": reason, **_who(job)}
            )
            await self._end(job, JobState.FAILED, message)
        elif status is TaskStatus.CANCELED:
            await self._end(job, JobState.CANCELED, None)
        else:  # UNKNOWN: the provider no longer knows the task
            await self._end(job, JobState.EXPIRED, self._expired(job))

    def _plan_next_poll(self, job: Job) -> None:
        # Where the task should end, given everything ahead of it at the provider.
        now = utcnow()
        end = self._ends.get(job.id) or expected_ends([job], self._model, 1, now)[job.id]
        remaining = (end - now).total_seconds()
        overdue = self._polled.get(job.id, 0)
        if remaining <= 0:
            self._polled[job.id] = overdue + 1
        delay = next_poll_delay(
            self._poll_plan, remaining=remaining, overdue_polls=overdue, rng=self._rng
        )
        self._track(job, delay=delay)

    async def _refresh_ends(self) -> None:
        """Re-plan when every in-flight task should end (after any in-flight change)."""
        in_flight = await self._store.in_states(IN_FLIGHT)
        self._ends = self._expected_ends(in_flight, utcnow())

    async def _watchdog(self, job: Job, status: TaskStatus) -> bool:
        """Handle a task stuck past the limit; True when the job ended here."""
        limit = timedelta(seconds=self._limits.stuck_task_seconds)
        now = utcnow()
        if status is TaskStatus.PENDING and job.submitted_at and now - job.submitted_at > limit:
            assert job.task_id is not None
            try:
                await self._client.cancel_task(job.task_id)
            except ProviderError as error:
                log.warning("job %d stuck but could not be cancelled: %s", job.id, error.code)
                return False
            hours = round(limit.total_seconds() / 3600, 1)
            message = UserMessage(key=MessageKey.RENDER_STUCK, params={"hours": hours, **_who(job)})
            await self._end(job, JobState.FAILED, message)
            self._dispatch_wake.set()
            return True
        started = job.started_at
        slow = status is TaskStatus.RUNNING and started and now - started > limit
        if slow and job.id not in self._warned_slow:
            self._warned_slow.add(job.id)
            await self._alert(
                f"Job {job.id} (task {job.task_id}) has been rendering for over "
                f"{limit.total_seconds() / 3600:.1f} h; the provider stops it at 3 h.",
                guild_id=job.guild_id,
            )
        return False

    async def _succeeded(self, job: Job, task: TaskResponse) -> Job:
        seconds = task.usage.video_duration if task.usage else None
        if task.video_url is None:
            message = UserMessage(
                key=MessageKey.RENDER_FAILED, params={"reason": "no result", **_who(job)}
            )
            return await self._end(job, JobState.FAILED, message)
        started, ended = task.output.started_at or job.started_at, task.output.ended_at
        render = (ended - started).total_seconds() if started and ended else None
        job = await self._transition(
            job,
            JobState.SUCCEEDED,
            JobUpdate(
                result_url=task.video_url,
                video_seconds=seconds,
                cost_usd=self._prices.cost(seconds, job.framing.value)
                if seconds is not None
                else None,
                started_at=started,
                render_seconds=render,
                finished_at=utcnow(),
            ),
        )
        await self._learn()
        return job

    async def _learn(self) -> None:
        self._model = DurationModel.learn(
            await self._store.render_history(),
            self._limits.render_seconds_per_audio_second,
        )
        await self._refresh_ends()

    # -- delivery -------------------------------------------------------------------------

    def _deliver_soon(self, job: Job) -> None:
        if job.id in self._delivering:
            return
        self._delivering.add(job.id)
        self._tasks.spawn(self._deliver(job), name=f"deliver-{job.id}")

    async def _deliver(self, job: Job) -> None:
        try:
            if job.state is JobState.DELIVERING and utcnow() - job.updated_at > NONCE_WINDOW:
                # A post may have landed just before a crash, beyond Discord's nonce memory.
                found = await self.notifier.find_delivery(job)
                if found is not None:
                    await self._delivered(job, found)
                    return
            if job.state is JobState.SUCCEEDED:
                job = await self._transition(job, JobState.DELIVERING)
            video = self._preparer.job_dir(job.id) / "result.mp4"
            have_video = await asyncio.to_thread(video.exists)
            if have_video or await self._download_result(job, video):
                await self._post(job, video)
        finally:
            self._delivering.discard(job.id)

    async def _download_result(self, job: Job, video: Path) -> bool:
        assert job.result_url is not None
        for attempt in range(1, self._limits.delivery_attempts + 1):
            try:
                await download_to_file(
                    self._session,
                    job.result_url,
                    video,
                    max_bytes=self._limits.max_result_bytes,
                    allowed_hosts=None,
                )
                return True
            except DownloadError as error:
                # 403/404 means the signed URL expired: no retry can help.
                final = "403" in str(error) or "404" in str(error)
                log.warning("job %d result download failed: %s", job.id, type(error).__name__)
                if final or attempt == self._limits.delivery_attempts:
                    await self._end(job, JobState.EXPIRED, self._expired(job))
                    return False
                await asyncio.sleep(self._limits.retry_base_delay * attempt)
        return False

    async def _post(self, job: Job, video: Path) -> None:
        delay = self._limits.retry_base_delay
        for attempt in range(1, self._limits.delivery_attempts + 1):
            try:
                message_id = await self.notifier.deliver_result(job, video)
            except Exception as error:
                # A bug at the edge must not leave the job stuck in DELIVERING: it counts as
                # a failed attempt like any other.
                permanent = isinstance(error, DeliveryError) and error.permanent
                if isinstance(error, DeliveryError):
                    log.warning("job %d delivery attempt %d failed: %s", job.id, attempt, error)
                else:
                    log.exception("job %d delivery attempt %d failed unexpectedly", job.id, attempt)
                if permanent or attempt == self._limits.delivery_attempts:
                    message = UserMessage(key=MessageKey.DELIVERY_FAILED, params=_who(job))
                    await self._end(job, JobState.FAILED, message)
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
                continue
            await self._delivered(job, message_id)
            return

    async def _delivered(self, job: Job, message_id: int) -> None:
        # The message exists now: record it even if we are being cancelled.
        await self._transition(
            job, JobState.DELIVERED, JobUpdate(message_id=message_id, delivered_at=utcnow())
        )

    # -- restart ------------------------------------------------------------------------

    async def _resume(self) -> None:
        unfinished = await self._store.in_states(
            [state for state in JobState if not state.is_terminal and state is not JobState.QUEUED]
        )
        submitting: list[Job] = []
        for job in unfinished:
            log.info("resuming job %d in state %s", job.id, job.state.value)
            if job.state in (JobState.RECEIVED, JobState.PREPARING):
                self._tasks.spawn(self._resume_preparation(job), name=f"prepare-{job.id}")
            elif job.state is JobState.SUBMITTING:
                submitting.append(job)
            elif job.state is JobState.SUBMITTED:
                self._track(job, delay=0)
            else:
                self._deliver_soon(job)

        if submitting:
            self._tasks.spawn(self._reconcile(submitting), name="reconcile-submits")

    async def _reconcile(self, jobs: list[Job]) -> None:
        """Settle jobs whose process died between submitting and storing the task id.

        The provider has no idempotency key, so its task list decides (docs/architecture.md):
        no unknown task in a job's window -> it was never created: queue it again; exactly one,
        and no other uncertain job shares the window -> adopt it; anything else -> ask the
        member instead of risking a second charge.
        """
        margin = timedelta(seconds=RECONCILE_MARGIN_SECONDS)
        reach = timedelta(seconds=self._limits.submit_timeout_seconds) + margin
        # A live process may still be waiting for its answer: wait until none could be.
        settle_at = max(job.updated_at for job in jobs) + reach
        await asyncio.sleep(max(0.0, (settle_at - utcnow()).total_seconds()))
        async with self._submit_lock:
            await self._reconcile_locked(jobs, margin, reach)
        self._dispatch_wake.set()

    async def _reconcile_locked(self, jobs: list[Job], margin: timedelta, reach: timedelta) -> None:
        # Other processes' submits may be under way: their tasks would look unknown too.
        # (Read before the known ids, so a task id stored in between is not missed.)
        batch = {job.id for job in jobs}
        elsewhere = [
            row for row in await self._store.in_states([JobState.SUBMITTING]) if row.id not in batch
        ]
        start = min(job.updated_at for job in jobs) - margin
        try:
            listing = await self._client.list_tasks(
                model=SYNTHESIS_MODEL, start=start, end=utcnow()
            )
        except ProviderError as error:
            log.warning("task list unavailable (%s): asking the members instead", error.code)
            listing = None
        known = await self._store.known_task_ids()
        unknown = [] if listing is None else [t for t in listing.tasks if t.task_id not in known]
        for job in jobs:
            low, high = job.updated_at - margin, job.updated_at + reach
            mine = [
                task
                for task in unknown
                if task.submitted_at is None or low <= task.submitted_at <= high
            ]
            rivals = [
                other
                for other in [*jobs, *elsewhere]
                if other.id != job.id and abs(other.updated_at - job.updated_at) <= reach
            ]
            try:
                if listing is not None and listing.trustworthy and not mine:
                    log.info("job %d was never created at the provider: queued again", job.id)
                    await self._store.transition(job, JobState.QUEUED)
                elif listing is not None and len(mine) == 1 and not rivals:
                    log.info("job %d adopts provider task %s", job.id, mine[0].task_id)
                    adopted = await self._transition(
                        job,
                        JobState.SUBMITTED,
                        JobUpdate(task_id=mine[0].task_id, submitted_at=job.updated_at),
                    )
                    self._track(adopted, delay=0)
                else:
                    await self._end(job, JobState.FAILED, self._uncertain(job))
            except StaleJobStateError:
                continue  # another process settled it

    async def _resume_preparation(self, job: Job) -> None:
        if job.state is JobState.RECEIVED:
            job = await self._transition(job, JobState.PREPARING)
        try:
            job = await self._prepare(job)
        except UserFacingError as refusal:
            await self.notifier.report_failure(job, refusal.message)
            return
        self._dispatch_wake.set()

    # -- helpers ------------------------------------------------------------------------

    async def _transition(self, job: Job, target: JobState, update: JobUpdate | None = None) -> Job:
        """Write the new state first (shielded from cancellation), then let the edge show it."""
        moved = await self._write(self._store.transition(job, target, update))
        if target in IN_FLIGHT or job.state in IN_FLIGHT:
            await self._refresh_ends()
        await self._changed(moved)
        return moved

    async def _write(self, write: Coroutine[Any, Any, Job]) -> Job:
        """Run a row write to its end even if the caller is cancelled; close() awaits it."""
        task = asyncio.ensure_future(write)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return await asyncio.shield(task)

    async def _changed(self, job: Job) -> None:
        try:
            await self.notifier.job_changed(job)
        except Exception:
            # Progress display is best effort: it must never stop a job.
            log.exception("job %d progress update failed", job.id)

    async def _alert(self, text: str, *, guild_id: int | None = None) -> None:
        try:
            await self.notifier.operator_alert(text, guild_id=guild_id)
        except Exception:
            log.exception("operator alert failed")

    async def _end(
        self, job: Job, target: JobState, message: UserMessage | None, *, notify: bool = True
    ) -> Job:
        """Write a terminal state, then tell the member (unless the caller answers them)."""
        update = _error_update(message) if message else JobUpdate(finished_at=utcnow())
        ended = await self._write(self._store.transition(job, target, update))
        if job.state in IN_FLIGHT:
            await self._refresh_ends()
        if notify and message is not None:
            try:
                await self.notifier.report_failure(ended, message)
            except Exception:
                log.exception("job %d failure report failed", job.id)
        await self._changed(ended)
        return ended

    def _uncertain(self, job: Job) -> UserMessage:
        return UserMessage(key=MessageKey.SUBMIT_UNCERTAIN, params=_who(job))

    def _expired(self, job: Job) -> UserMessage:
        return UserMessage(key=MessageKey.RESULT_EXPIRED, params=_who(job))

    async def _provider_trouble(self, job: Job, error: ProviderError) -> UserMessage:
        if isinstance(error, ProviderOperatorError):
            await self._pause(error)
            return UserMessage(key=MessageKey.PROVIDER_UNAVAILABLE, params={"job": job.id})
        log.warning("job %d gave up after provider errors: %s", job.id, error.code)
        return UserMessage(key=MessageKey.PROVIDER_BUSY, params={"job": job.id})
