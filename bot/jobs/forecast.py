"""Where each waiting job stands: how many go first, and when it should be ready."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.jobs.limits import EngineLimits
from bot.jobs.models import Job
from bot.jobs.planning import forecast_ready, pick_next
from bot.jobs.repository import JobRepository
from bot.jobs.states import JobState
from bot.jobs.timeline import IN_FLIGHT, Timeline


@dataclass(frozen=True)
class Spot:
    """Where a waiting job stands: how many go first, and when it should be ready."""

    ahead: int
    ready_at: datetime | None = None


class Forecaster:
    """Replays the fair share over the queue, behind the tasks in flight."""

    def __init__(self, jobs: JobRepository, timeline: Timeline, limits: EngineLimits) -> None:
        self._jobs = jobs
        self._timeline = timeline
        self._limits = limits

    async def forecast(self) -> dict[int, Spot]:
        """Every waiting job's place and expected ready time: the tasks in flight first,
        then the queue in the order the fair share will take it."""
        now = utcnow()
        in_flight = await self._jobs.in_states(IN_FLIGHT)
        ends = self._timeline.expected_ends(in_flight, now)
        spots = {job.id: Spot(ahead=0, ready_at=ends.get(job.id)) for job in in_flight}
        queued = [
            job.model_copy(update={"not_before": None})
            for job in await self._jobs.in_states((JobState.QUEUED,))
        ]
        window = timedelta(seconds=self._limits.fairness_window_seconds)
        usage = await self._jobs.usage(now - window)
        order: list[Job] = []
        while queued:
            chosen = pick_next(queued, usage, now)
            if chosen is None:
                break
            order.append(chosen)
            usage = usage.served(chosen.guild_id, now + timedelta(seconds=len(order)))
            queued.remove(chosen)
        ready = forecast_ready(
            order, ends, self._timeline.model, self._limits.provider_concurrency, now
        )
        for place, job in enumerate(order):
            spots[job.id] = Spot(ahead=len(in_flight) + place, ready_at=ready.get(job.id))
        return spots

    async def ahead_of(self, job: Job) -> int:
        """How many jobs go to the provider before ``job``."""
        spot = (await self.forecast()).get(job.id)
        return spot.ahead if spot else 0
