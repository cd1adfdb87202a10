"""Pure decisions of the job engine: who goes next, when to submit, when to poll.

No I/O here: every function takes the rows and the clock, so each rule is tested directly.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.jobs.models import Job


@dataclass(frozen=True)
class Usage:
    """Each server's recent demand on the provider: the fair share's memory."""

    recent: dict[int | None, int]  # submitted within the fairness window + waiting now
    last_served: dict[int | None, datetime]

    def served(self, guild_id: int | None, at: datetime) -> Usage:
        return Usage(recent=self.recent, last_served={**self.last_served, guild_id: at})


def pick_next(queued: Sequence[Job], usage: Usage, now: datetime) -> Job | None:
    """Fair share across servers by demand, FIFO within a server.

    A server's demand is what it had submitted within the fairness window plus what it has
    waiting now. The server with the least goes first; among equals, the one served longest
    ago (a round robin), then the older job. A light server's jobs thus overtake a flooding
    server's, all of them; and as a light server is served its demand grows, so a busy one
    cannot keep a flood waiting for longer than the window. Derived from rows only, so it
    survives restarts and is the same in every process.
    """
    heads: dict[int | None, Job] = {}
    for job in queued:
        if job.not_before is not None and job.not_before > now:
            continue
        head = heads.get(job.guild_id)
        if head is None or job.id < head.id:
            heads[job.guild_id] = job
    if not heads:
        return None
    never = datetime.min.replace(tzinfo=now.tzinfo)
    return min(
        heads.values(),
        key=lambda job: (
            usage.recent.get(job.guild_id, 0),
            usage.last_served.get(job.guild_id, never),
            job.id,
        ),
    )


@dataclass(frozen=True)
class DurationModel:
    """Render time as ``overhead + rate × audio seconds``, learned from finished jobs."""

    rate: float
    overhead: float = 0.0
    samples: int = 0

    def expected(self, audio_seconds: float | None) -> float:
        return self.overhead + self.rate * (audio_seconds or 10.0)

    @classmethod
    def learn(cls, finished: Sequence[tuple[float, float]], prior_rate: float) -> DurationModel:
        """Fit (audio seconds, render seconds) pairs; fall back to the prior when too few."""
        pairs = [(a, r) for a, r in finished if a > 0 and r > 0]
        if not pairs:
            return cls(rate=prior_rate)
        if len(pairs) >= 3 and len({round(a, 1) for a, _ in pairs}) >= 2:
            mean_a = statistics.fmean(a for a, _ in pairs)
            mean_r = statistics.fmean(r for _, r in pairs)
            spread = sum((a - mean_a) ** 2 for a, _ in pairs)
            slope = sum((a - mean_a) * (r - mean_r) for a, r in pairs) / spread
            intercept = mean_r - slope * mean_a
            if slope > 0 and intercept >= 0:
                return cls(rate=slope, overhead=intercept, samples=len(pairs))
        # Too few or too alike to fit a line: the median rate is robust to one odd render.
        rate = statistics.median(r / a for a, r in pairs)
        return cls(rate=rate, samples=len(pairs))


def expected_ends(
    in_flight: Sequence[Job],
    model: DurationModel,
    concurrency: int,
    now: datetime,
    *,
    provider_free_at: datetime | None = None,
) -> dict[int, datetime]:
    """When each in-flight task should finish, replaying the provider's FIFO queue.

    The provider runs ``concurrency`` tasks at a time in submission order; a task it has
    started (``started_at``) runs from then, the others start when a slot frees, and never
    before ``provider_free_at`` (when the last finished task ended there).
    """
    free = provider_free_at or datetime.min.replace(tzinfo=now.tzinfo)
    slots = [free] * concurrency
    ends: dict[int, datetime] = {}
    ordered = sorted(in_flight, key=lambda job: (job.submitted_at or now, job.id))
    for job in ordered:
        duration = timedelta(seconds=model.expected(job.audio_seconds))
        slot = min(range(concurrency), key=lambda index: slots[index])
        # Not seen running yet: it started when both it was submitted and a slot was free.
        start = job.started_at or max(slots[slot], job.submitted_at or now)
        # A render past its estimate is still running: it ends no earlier than now.
        end = max(start + duration, now)
        slots[slot] = end
        ends[job.id] = end
    return ends


def lookahead_open(
    ends: dict[int, datetime],
    *,
    concurrency: int,
    lookahead: int,
    window: timedelta,
    now: datetime,
) -> bool:
    """True when one more task may be submitted now.

    Below ``concurrency`` the provider has an idle slot: submit. Beyond it, a look-ahead task
    is submitted only once the provider is expected to free a slot within ``window``, so the
    choice of who goes next is made as late as possible without leaving the provider idle.
    """
    in_flight = len(ends)
    if in_flight < concurrency:
        return True
    if in_flight >= concurrency + lookahead:
        return False
    still_busy = sum(1 for end in ends.values() if end > now + window)
    return still_busy < concurrency


def lookahead_opens_at(
    ends: dict[int, datetime], *, concurrency: int, window: timedelta
) -> datetime | None:
    """When ``lookahead_open`` will next turn true by the clock alone."""
    if len(ends) < concurrency:
        return None
    finishing = sorted(ends.values())
    return finishing[len(finishing) - concurrency] - window


@dataclass(frozen=True)
class PollPlan:
    minimum: float
    maximum: float
    jitter: float = 0.1


def next_poll_delay(
    plan: PollPlan, *, remaining: float, overdue_polls: int, rng: random.Random
) -> float:
    """Seconds until the next query of a task expected to end in ``remaining`` seconds.

    Sparse early, dense near the expected end: halve the distance each time (never more than
    ``maximum`` apart, so an early failure is noticed), land one query just after the
    expected end, then poll at ``minimum``, backing off gently when the estimate proves short.
    """
    if remaining > 2 * plan.minimum:
        delay = min(remaining / 2, plan.maximum)
        return delay * rng.uniform(1 - plan.jitter, 1 + plan.jitter)
    if remaining > 0:
        # Close: aim just past the end rather than near it, so one query usually suffices.
        return remaining + plan.minimum * 0.1
    delay = min(plan.minimum * 1.5**overdue_polls, plan.maximum)
    return delay * rng.uniform(1, 1 + plan.jitter)


def forecast_ready(
    queued_in_order: Sequence[Job],
    ends: dict[int, datetime],
    model: DurationModel,
    concurrency: int,
    now: datetime,
) -> dict[int, datetime]:
    """When each queued job should be rendered, given the tasks in flight and the order the
    fair share will take the queue in (an estimate for members, never a promise)."""
    slots = [now] * concurrency
    for end in sorted(ends.values()):
        index = min(range(concurrency), key=lambda i: slots[i])
        slots[index] = max(slots[index], end)
    ready: dict[int, datetime] = {}
    for job in queued_in_order:
        index = min(range(concurrency), key=lambda i: slots[i])
        start = max(slots[index], now)
        slots[index] = start + timedelta(seconds=model.expected(job.audio_seconds))
        ready[job.id] = slots[index]
    return ready
