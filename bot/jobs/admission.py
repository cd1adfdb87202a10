"""Admission: the limits a job must fit, asked of a policy the engine does not own.

The engine checks caps when it writes a job's row and the policy's guard when the job
enters the queue, both inside the same transaction as the write. ``bot.guilds`` implements
the policy per server; ``FixedAdmission`` is the bot-wide one (no per-server settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.jobs.models import Job
from bot.jobs.repository import Caps, Guard
from bot.provider.pricing import Prices


@dataclass(frozen=True)
class QueueEntry:
    """What entering the queue costs (the estimate) and what must hold for it (the guard,
    checked in the queueing transaction; it raises a UserFacingError to refuse)."""

    estimate_usd: float
    guard: Guard | None = None


class Admission(Protocol):
    async def caps(self, guild_id: int | None, user_id: int) -> Caps:
        """The caps for a new job's row. May refuse at once (a UserFacingError), before
        anything is downloaded, when an allowance is used up."""
        ...

    async def entry(self, job: Job, audio_seconds: float) -> QueueEntry:
        """The estimate and the check for ``job`` entering the queue with its length known."""
        ...


class FixedAdmission:
    """The same caps for everyone, and no quotas."""

    def __init__(self, caps: Caps, prices: Prices) -> None:
        self._caps = caps
        self._prices = prices

    async def caps(self, guild_id: int | None, user_id: int) -> Caps:
        return self._caps

    async def entry(self, job: Job, audio_seconds: float) -> QueueEntry:
        return QueueEntry(estimate_usd=self._prices.cost(audio_seconds, job.framing.value))
