"""Where each waiting job stands: how many go first, and when it should be ready."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import utcnow
from bot.jobs.limits import EngineLimits
from bot.jobs.models import Job
from bot.jobs.planning import Usage, forecast_ready, pick_next
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
        then the queue in the order the fair share will take it. Each lane on its own: the
        operator's accounts take the jobs pinned to none, a server's own account only its
        jobs (bring your own key), so a job waits only behind those of its lane."""
        now = utcnow()
        in_flight = await self._jobs.in_states(IN_FLIGHT)
        queued = await self._jobs.in_states((JobState.QUEUED,))
        window = timedelta(seconds=self._limits.fairness_window_seconds)
        usage = await self._jobs.usage(now - window)
        spots: dict[int, Spot] = {}
        for lane in {job.own_account for job in (*in_flight, *queued)}:
            spots.update(
                self._lane(
                    [job for job in in_flight if job.own_account == lane],
                    [job for job in queued if job.own_account == lane],
                    usage,
                    # The operator's accounts together, or the server's one account.
                    self._timeline.concurrency
                    if lane is None
                    else self._limits.provider_concurrency,
                    now,
                )
            )
        return spots

    def _lane(
        self, in_flight: list[Job], queued: list[Job], usage: Usage, concurrency: int, now: datetime
    ) -> dict[int, Spot]:
        ends = self._timeline.expected_ends(in_flight, now)
        spots = {job.id: Spot(ahead=0, ready_at=ends.get(job.id)) for job in in_flight}
        waiting = [job.model_copy(update={"not_before": None}) for job in queued]
        order: list[Job] = []
        while waiting:
            chosen = pick_next(waiting, usage, now)
            if chosen is None:
                break
            order.append(chosen)
            usage = usage.served(chosen.guild_id, now + timedelta(seconds=len(order)))
            waiting.remove(chosen)
        ready = forecast_ready(order, ends, self._timeline.model, concurrency, now)
        for place, job in enumerate(order):
            spots[job.id] = Spot(ahead=len(in_flight) + place, ready_at=ready.get(job.id))
        return spots

    async def ahead_of(self, job: Job) -> int:
        """How many jobs go to the provider before ``job``."""
        spot = (await self.forecast()).get(job.id)
        return spot.ahead if spot else 0
