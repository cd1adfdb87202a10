"""Polling: one loop watches every task in flight, within a shared query budget.

Each task's next query is planned from its expected end (``Timeline``); a finished task is
written and handed to delivery, a failed one ends its job, a stuck one is cancelled.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.clock import utcnow
from bot.errors import QuietError
from bot.jobs.budget import QueryBudget
from bot.jobs.events import OperatorAlert
from bot.jobs.limits import EngineLimits
from bot.jobs.models import Job, JobChanges
from bot.jobs.notices import expired, to_member
from bot.jobs.planning import PollPlan, next_poll_delay
from bot.jobs.repository import JobNotFoundError, JobRepository, StaleJobStateError
from bot.jobs.states import JobState
from bot.jobs.timeline import Timeline
from bot.jobs.writer import JobWriter
from bot.messages import MessageKey, UserMessage
from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderError, failed_on_provider_side
from bot.provider.models import TaskResponse, TaskStatus
from bot.provider.pricing import Prices
from bot.tasks import Wakeup
from bot.topic import Topic

log = logging.getLogger(__name__)

_POLLING = datetime.max.replace(tzinfo=UTC)  # in ``_due``: its query is under way
TASK_LIFETIME = timedelta(hours=24)  # the provider forgets task ids and result URLs after this


class Poller:
    """Owns the poll schedule: which task to query next, and when."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        writer: JobWriter,
        client: DashScopeClient,
        timeline: Timeline,
        alerts: Topic[OperatorAlert],
        prices: Prices,
        limits: EngineLimits,
        on_finished: Callable[[Job], None],
        wake_dispatcher: Callable[[], None],
    ) -> None:
        self._jobs = jobs
        self._writer = writer
        self._client = client
        self._timeline = timeline
        self._alerts = alerts
        self._prices = prices
        self._limits = limits
        self._on_finished = on_finished  # a SUCCEEDED job: deliver it
        self._wake_dispatcher = wake_dispatcher  # a task ended or started: submit?
        self.budget = QueryBudget(limits.query_budget_per_second)
        self._plan = PollPlan(limits.poll_min_seconds, limits.poll_max_seconds)
        self._queue: list[tuple[datetime, int]] = []
        self._due: dict[int, datetime] = {}  # job id -> when its query is due (or under way)
        self._overdue: dict[int, int] = {}  # job id -> polls since the expected end passed
        self._warned_slow: set[int] = set()
        self._unrecognized: set[int] = set()  # jobs whose odd status was logged
        self._on_success: list[Callable[[Job], None]] = []
        self._account = limits.account  # its task ids answer only to this account's key
        self._wakeup = Wakeup()
        self._rng = random.Random()

    def on_succeeded(self, callback: Callable[[Job], None]) -> None:
        """Also tell ``callback`` of each task that succeeded (after its row is written)."""
        self._on_success.append(callback)

    async def pace(self) -> None:
        """Wait for a token of the shared query budget (for other queries than polls)."""
        await self.budget.acquire()

    def track(self, job_id: int, *, delay: float) -> None:
        """Query ``job_id``'s task in ``delay`` seconds (instead of when it was due)."""
        due = utcnow() + timedelta(seconds=delay)
        self._due[job_id] = due
        heapq.heappush(self._queue, (due, job_id))
        self._wakeup.ring()

    def reset(self) -> None:
        """Forget the schedule (this process starts polling afresh: ``rescan`` fills it)."""
        self._queue.clear()
        self._due.clear()
        self._overdue.clear()

    async def rescan(self) -> int:
        """Schedule every task in flight that is not scheduled yet (one submitted or adopted
        elsewhere, or before this process took the polling over); return how many."""
        added = 0
        for job in await self._jobs.in_states([JobState.SUBMITTED]):
            if job.account == self._account and job.id not in self._due:
                self.track(job.id, delay=0)
                added += 1
        return added

    async def run_forever(self) -> None:
        while True:
            if not self._queue:
                await self._wakeup.sleep(None)
                continue
            due, job_id = self._queue[0]
            wait = (due - utcnow()).total_seconds()
            if wait > 0:
                await self._wakeup.sleep(wait)
                continue
            heapq.heappop(self._queue)
            if self._due.get(job_id) != due:
                continue  # moved sooner or later since: that entry counts, not this one
            self._due[job_id] = _POLLING
            try:
                await self._poll_now(job_id)
            finally:
                if self._due.get(job_id) is _POLLING:
                    del self._due[job_id]  # its task ended: it is not scheduled again

    async def _poll_now(self, job_id: int) -> None:
        try:
            await self._poll(job_id)
        except StaleJobStateError:
            log.info("job %d moved while it was polled (a cancel)", job_id)
        except QuietError:
            # The database is away (said once where it happened): poll it again later.
            self.track(job_id, delay=self._limits.poll_max_seconds)
        except Exception:
            log.exception("job %d poll failed unexpectedly; polling it again later", job_id)
            self.track(job_id, delay=self._limits.poll_max_seconds)

    async def _poll(self, job_id: int) -> None:
        try:
            job = await self._jobs.get(job_id)
        except JobNotFoundError:
            return
        if job.state is not JobState.SUBMITTED or job.task_id is None:
            self._overdue.pop(job_id, None)
            return
        if job.account != self._account:
            return  # another account's task: its own poller asks with its key
        now = utcnow()
        if job.submitted_at is not None and now - job.submitted_at > TASK_LIFETIME:
            await self._writer.end(job, JobState.EXPIRED, expired(job))
            return
        await self.budget.acquire()
        try:
            task = await self._client.get_task(job.task_id)
        except ProviderError as error:
            # Polling is free and the task lives on: keep trying, at the slow rhythm.
            if error.status == 429 or error.code.startswith("Throttling"):
                self.budget.penalize(error.retry_after)
            log.warning("job %d poll failed: %s", job.id, error.reference)
            self.track(job.id, delay=max(self._limits.poll_max_seconds, error.retry_after or 0))
            return
        self.budget.succeeded()
        await self._answered(job, task, now)

    async def _answered(self, job: Job, task: TaskResponse, now: datetime) -> None:
        output = task.output
        status = output.task_status
        if status.in_flight:
            job = await self._in_flight(job, task, now)
            if await self._watchdog(job, status):
                return
            self._plan_next(job)
            return
        self._overdue.pop(job.id, None)
        self._timeline.task_ended(output.ended_at or now)
        if status is TaskStatus.SUCCEEDED:
            job = await self._succeeded(job, task)
            self._wake_dispatcher()
            if job.state is JobState.SUCCEEDED:
                self._on_finished(job)
                for callback in self._on_success:
                    callback(job)
            return
        self._wake_dispatcher()
        if status is TaskStatus.FAILED:
            await self._failed(job, task)
        elif status is TaskStatus.CANCELED:
            await self._writer.end(job, JobState.CANCELED, None)
        else:  # UNKNOWN: the provider no longer knows the task
            await self._writer.end(job, JobState.EXPIRED, expired(job))

    async def _in_flight(self, job: Job, task: TaskResponse, now: datetime) -> Job:
        """Note what an unfinished task's status says: it started, it is suspended."""
        output = task.output
        status = output.task_status
        if status is TaskStatus.UNRECOGNIZED and job.id not in self._unrecognized:
            self._unrecognized.add(job.id)
            log.warning(
                "job %d: the provider says its task is %r, a status the bot does not know; "
                "it is taken as still on its way",
                job.id,
                output.status_text,
            )
        changes: dict[str, object] = {}
        if status is TaskStatus.RUNNING and job.started_at is None:
            # Its end is now known better, and so is when the look-ahead should go.
            changes["started_at"] = output.started_at or now
        if output.status_text != job.provider_status:
            changes["provider_status"] = output.status_text  # a SUSPENDED render shows
        if not changes:
            return job
        job = await self._writer.annotate(job, JobChanges.model_validate(changes))
        if "started_at" in changes:
            self._wake_dispatcher()
        return job

    async def _failed(self, job: Job, task: TaskResponse) -> None:
        """A FAILED task: the provider's own failure is retried once (it was not billed);
        one caused by the input, or a second one, ends the job."""
        code = task.output.code
        if failed_on_provider_side(code) and job.retried_task_id is None:
            log.warning(
                "job %d: task %s failed on the provider's side (%s): submitted again once",
                job.id,
                job.task_id,
                code,
            )
            retry = JobChanges(
                retried_task_id=job.task_id,
                task_id=None,
                submitted_at=None,
                started_at=None,
                provider_status=None,
                not_before=None,
            )
            await self._writer.move(job, JobState.QUEUED, retry)
            return
        message = to_member(MessageKey.RENDER_FAILED, job, reason=code or "unknown")
        await self._writer.end(job, JobState.FAILED, message)

    def _plan_next(self, job: Job) -> None:
        remaining = (self._timeline.end_of(job) - utcnow()).total_seconds()
        overdue = self._overdue.get(job.id, 0)
        if remaining <= 0:
            self._overdue[job.id] = overdue + 1
        delay = next_poll_delay(
            self._plan, remaining=remaining, overdue_polls=overdue, rng=self._rng
        )
        self.track(job.id, delay=delay)

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
            message = to_member(MessageKey.RENDER_STUCK, job, hours=hours)
            await self._writer.end(job, JobState.FAILED, message)
            self._wake_dispatcher()
            return True
        started = job.started_at
        slow = status is TaskStatus.RUNNING and started and now - started > limit
        if slow and job.id not in self._warned_slow:
            self._warned_slow.add(job.id)
            log.warning("job %d (task %s) is still rendering past the limit", job.id, job.task_id)
            alert = UserMessage(
                key=MessageKey.ALERT_RENDER_SLOW,
                params={
                    "job": job.id,
                    "task": job.task_id or "?",
                    "hours": round(limit.total_seconds() / 3600, 1),
                },
            )
            await self._alerts.publish(OperatorAlert(alert, guild_id=job.guild_id))
        return False

    async def _succeeded(self, job: Job, task: TaskResponse) -> Job:
        seconds = task.usage.video_duration if task.usage else None
        if task.video_url is None:
            message = to_member(MessageKey.RENDER_FAILED, job, reason="no result")
            return await self._writer.end(job, JobState.FAILED, message)
        started, ended = task.output.started_at or job.started_at, task.output.ended_at
        render = (ended - started).total_seconds() if started and ended else None
        cost = self._prices.cost(seconds, job.framing.value) if seconds is not None else None
        return await self._writer.move(
            job,
            JobState.SUCCEEDED,
            JobChanges(
                result_url=task.video_url,
                video_seconds=seconds,
                cost_usd=cost,
                started_at=started,
                render_seconds=render,
                finished_at=utcnow(),
            ),
        )
