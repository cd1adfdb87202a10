"""What counts against the quotas and the budget, as sums over jobs.

A job counts from the moment it is queued: while on its way it counts with its audio length
and its estimate; once the provider billed it, with the billed seconds and the real cost.
Refused jobs, and jobs that ended before the provider billed them, do not count. A job
belongs to the UTC day and month in which the member asked for it (``created_at``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.jobs.states import JobState

COUNTED_STATES = (
    JobState.QUEUED,
    JobState.SUBMITTING,
    JobState.SUBMITTED,
    JobState.SUCCEEDED,
    JobState.DELIVERING,
    JobState.DELIVERED,
)
"""States in which a job counts; a job in any other state counts only once it was billed."""


class Totals(BaseModel):
    """Videos, seconds of video and USD over some window."""

    model_config = ConfigDict(frozen=True)

    jobs: int = 0
    seconds: float = 0.0
    cost_usd: float = 0.0
