"""Admission: a prepared job enters the queue only within its server's limits and the
bot-wide monthly budget (``total_budget.py``).

The checks run inside the same write transaction as the job's move to QUEUED, so two
processes (or two coroutines) cannot both squeeze in past a limit.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.clock import Clock, day_start, month_start, next_day, next_month, system_clock
from bot.errors import UserFacingError
from bot.guilds.money import usd
from bot.guilds.settings import GuildSettings, GuildSettingsStore, SettingName
from bot.guilds.total_budget import BotWideBudget
from bot.jobs.admission import QueueEntry
from bot.jobs.models import Job
from bot.jobs.repository import Caps, JobRepository, LedgerView
from bot.messages import MessageKey
from bot.provider.pricing import Prices

log = logging.getLogger(__name__)

# Sums of rounded costs must not refuse a job that exactly fills the budget.
_EPSILON = 1e-6


class QuotaExceededError(UserFacingError):
    """A job would break the member's daily allowance or the server's monthly budget."""


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


class GuildAdmission:
    """The engine's Admission, per server: caps at intake, quotas and the budget when a job
    enters the queue."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        guilds: GuildSettingsStore,
        prices: Prices,
        total: BotWideBudget | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._jobs = jobs
        self._guilds = guilds
        self._prices = prices
        self._total = total  # None: no bot-wide budget
        self._clock = clock

    @property
    def prices(self) -> Prices:
        return self._prices

    def estimate(self, job: Job, audio_seconds: float) -> float:
        """What the video should cost: its length (the audio's) times the framing's price."""
        return self._prices.cost(audio_seconds, job.framing.value)

    async def caps(self, guild_id: int | None, user_id: int) -> Caps:
        """The server's caps for a new job's row. Refuses at once (QuotaExceededError), before
        anything is downloaded, when the member's allowance or the server's budget is used
        up, or the bot-wide budget is spent; whether the video itself fits is known only once
        its length is (``entry``)."""
        settings = await self._guilds.get(guild_id)
        if guild_id is not None:
            await self._check_used_up(guild_id, user_id, settings)
        if self._total is not None:
            await self._total.check_not_spent(guild_id, self._jobs)
        return Caps(
            active_per_member=settings.active_per_member,
            queued_per_server=settings.queue_cap,
        )

    async def _check_used_up(self, guild_id: int, user_id: int, settings: GuildSettings) -> None:
        now, ledger = self._clock(), self._jobs
        limit = settings.seconds_per_day
        if limit is not None:
            day = await ledger.totals(
                guild_id=guild_id, user_id=user_id, since=day_start(now), until=next_day(now)
            )
            if day.seconds >= limit - _EPSILON:
                log.info("member %d of guild %d has no video seconds left today", user_id, guild_id)
                raise QuotaExceededError(
                    MessageKey.QUOTA_DAILY_USED_UP,
                    used=round(day.seconds, 1),
                    limit=limit,
                    resets_at=_unix(next_day(now)),
                )
        budget = settings.monthly_budget_usd
        if budget is not None:
            month = await ledger.totals(
                guild_id=guild_id, since=month_start(now), until=next_month(now)
            )
            if month.cost_usd >= budget - _EPSILON:
                log.info("guild %d has used its monthly budget", guild_id)
                raise QuotaExceededError(
                    MessageKey.QUOTA_BUDGET_USED_UP_AT_CEILING
                    if _at_ceiling(settings)
                    else MessageKey.QUOTA_BUDGET_USED_UP,
                    spent=usd(month.cost_usd),
                    budget=usd(budget),
                    resets_at=_unix(next_month(now)),
                )

    async def entry(self, job: Job, audio_seconds: float) -> QueueEntry:
        """The estimate, and the check that the server's quotas allow it, which runs in the
        transaction that queues the job: it raises QuotaExceededError (nothing written)
        naming the limit, the use so far and when it resets."""
        estimate = self.estimate(job, audio_seconds)
        if job.guild_id is None:
            # Outside a server (the command line) there is no one to set limits.
            return QueueEntry(estimate_usd=estimate)
        settings = await self._guilds.get(job.guild_id)
        now = self._clock()
        total = await self._total.guard(job, estimate) if self._total is not None else None

        async def within_limits(ledger: LedgerView) -> None:
            if settings.seconds_per_day is not None:
                await self._check_day(ledger, job, settings.seconds_per_day, audio_seconds, now)
            if settings.monthly_budget_usd is not None:
                await self._check_month(ledger, job, settings, estimate, now)
            if total is not None:
                await total(ledger)

        return QueueEntry(estimate_usd=estimate, guard=within_limits)

    async def _check_day(
        self, ledger: LedgerView, job: Job, limit: int, seconds: float, now: datetime
    ) -> None:
        assert job.guild_id is not None
        used = await ledger.totals(
            guild_id=job.guild_id,
            user_id=job.user_id,
            since=day_start(now),
            until=next_day(now),
            excluding=job.id,
        )
        if used.seconds + seconds > limit + _EPSILON:
            log.info(
                "job %d refused: member %d has %.1f of %d s today, needs %.1f",
                job.id,
                job.user_id,
                used.seconds,
                limit,
                seconds,
            )
            raise QuotaExceededError(
                MessageKey.QUOTA_DAILY_SECONDS,
                needed=round(seconds, 1),
                used=round(used.seconds, 1),
                left=round(max(0.0, limit - used.seconds), 1),
                limit=limit,
                resets_at=_unix(next_day(now)),
            )

    async def _check_month(
        self, ledger: LedgerView, job: Job, settings: GuildSettings, estimate: float, now: datetime
    ) -> None:
        assert job.guild_id is not None
        assert settings.monthly_budget_usd is not None
        budget = settings.monthly_budget_usd
        spent = await ledger.totals(
            guild_id=job.guild_id,
            since=month_start(now),
            until=next_month(now),
            excluding=job.id,
        )
        if spent.cost_usd + estimate > budget + _EPSILON:
            log.info(
                "job %d refused: guild %d spent %.4f of %.2f USD, needs %.4f",
                job.id,
                job.guild_id,
                spent.cost_usd,
                budget,
                estimate,
            )
            raise QuotaExceededError(
                MessageKey.QUOTA_MONTHLY_BUDGET_AT_CEILING
                if _at_ceiling(settings)
                else MessageKey.QUOTA_MONTHLY_BUDGET,
                estimate=usd(estimate),
                spent=usd(spent.cost_usd),
                left=usd(max(0.0, budget - spent.cost_usd)),
                budget=usd(budget),
                resets_at=_unix(next_month(now)),
            )


def _at_ceiling(settings: GuildSettings) -> bool:
    """Whether the server's monthly budget is the operator's ceiling: its admins cannot
    raise it, so the refusal must not say they can."""
    ceiling = settings.ceilings.get(SettingName.MONTHLY_BUDGET)
    budget = settings.monthly_budget_usd
    return ceiling is not None and budget is not None and budget >= ceiling - _EPSILON
