"""When each task in flight should end, from render times learned from finished jobs.

The dispatcher reads it to time the look-ahead, the poller to time its queries, the forecast
to tell members when. It keeps itself current by listening to the jobs' changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.jobs.events import JobEvent
from bot.jobs.models import Job
from bot.jobs.planning import DurationModel, expected_ends
from bot.jobs.repository import JobRepository
from bot.jobs.states import JobState

IN_FLIGHT = (JobState.SUBMITTING, JobState.SUBMITTED)


class Timeline:
    """The duration model and the expected end of every task in flight: of one provider
    account (``account``), or of all of them as one pool (for the forecast)."""

    def __init__(
        self,
        jobs: JobRepository,
        *,
        concurrency: int,
        slots: int,
        prior_rate: float,
        account: str | None = None,
    ) -> None:
        self._jobs = jobs
        self._account = account
        self._concurrency = concurrency
        self._slots = slots
        self._prior_rate = prior_rate
        self.model = DurationModel(rate=prior_rate)
        self.ends: dict[int, datetime] = {}
        self._provider_free_at: datetime | None = None  # when the last finished task ended

    @property
    def concurrency(self) -> int:
        """Tasks rendering at once on the account (or the pool) this timeline plans."""
        return self._concurrency

    async def learn(self) -> None:
        """Fit the duration model to the latest renders, then re-plan."""
        self.model = DurationModel.learn(await self._jobs.render_history(), self._prior_rate)
        await self.refresh()

    async def refresh(self) -> None:
        """Re-plan when every in-flight task should end."""
        in_flight = await self._jobs.in_states(IN_FLIGHT)
        if self._account is not None:
            in_flight = [job for job in in_flight if job.account == self._account]
        self.ends = self.expected_ends(in_flight, utcnow())

    def expected_ends(self, in_flight: Sequence[Job], now: datetime) -> dict[int, datetime]:
        return expected_ends(
            in_flight,
            self.model,
            self._concurrency,
            now,
            provider_free_at=self._provider_free_at,
        )

    def end_of(self, job: Job) -> datetime:
        """When ``job``'s task should end (alone, if it is not planned yet)."""
        planned = self.ends.get(job.id)
        if planned is not None:
            return planned
        return expected_ends([job], self.model, 1, utcnow())[job.id]

    def uncertain_hold(self, job: Job) -> timedelta:
        """How long a task of ``job`` that we cannot see (its submit's answer was lost)
        might still run: waiting behind a task in every slot, then its own render; twice
        that, for safety."""
        render = self.model.expected(job.audio_seconds)
        return timedelta(seconds=2 * (self._slots + 1) * render)

    def task_ended(self, at: datetime) -> None:
        """A task ended at the provider at ``at``: no task starts there before that."""
        if self._provider_free_at is None or at > self._provider_free_at:
            self._provider_free_at = at

    async def on_event(self, event: JobEvent) -> None:
        before, after = event.before, event.after
        if event.entered(JobState.SUCCEEDED):
            await self.learn()  # a new render time, and one task fewer in flight
        elif event.entered(*IN_FLIGHT) or event.left(*IN_FLIGHT):
            await self.refresh()
        elif before is not None and before.started_at is None and after.started_at is not None:
            await self.refresh()  # seen running: its end is known better
