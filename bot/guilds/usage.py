"""Usage reports: a member's own use, and a server's totals by member and by month."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from bot.clock import (
    Clock,
    day_start,
    month_start,
    next_day,
    next_month,
    previous_month,
    system_clock,
)
from bot.guilds.access import Viewer
from bot.guilds.settings import GuildSettingsStore
from bot.jobs.ledger import Totals
from bot.jobs.repository import JobRepository

MONTHS_SHOWN = 6


class MemberUsage(BaseModel):
    """One member's use of one server: today and this month (UTC)."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    today: Totals
    month: Totals
    seconds_per_day: int | None  # the server's daily allowance; None: no limit
    day_resets_at: datetime


class ServerUsage(BaseModel):
    """A server's use this month by member, and its last months."""

    model_config = ConfigDict(frozen=True)

    guild_id: int
    month: Totals
    monthly_budget_usd: float | None
    month_resets_at: datetime
    by_member: list[tuple[int, Totals]]  # this month, the most expensive first
    by_month: list[tuple[str, Totals]]  # "YYYY-MM", the latest first


class UsageReports:
    """Answers ``/emo usage``; the permission rules are checked here, not only at the edge."""

    def __init__(
        self, jobs: JobRepository, guilds: GuildSettingsStore, clock: Clock = system_clock
    ) -> None:
        self._jobs = jobs
        self._guilds = guilds
        self._clock = clock

    async def member(self, viewer: Viewer, user_id: int | None = None) -> MemberUsage:
        """``user_id``'s use (default: the viewer's own); another member's needs a manager."""
        target = viewer.user_id if user_id is None else user_id
        viewer.require_self_or_manager(target)
        now, ledger = self._clock(), self._jobs
        settings = await self._guilds.get(viewer.guild_id)
        return MemberUsage(
            user_id=target,
            today=await ledger.totals(
                guild_id=viewer.guild_id,
                user_id=target,
                since=day_start(now),
                until=next_day(now),
            ),
            month=await ledger.totals(
                guild_id=viewer.guild_id,
                user_id=target,
                since=month_start(now),
                until=next_month(now),
            ),
            seconds_per_day=settings.seconds_per_day,
            day_resets_at=next_day(now),
        )

    async def server(self, viewer: Viewer) -> ServerUsage:
        """The server's totals; only a manager may see them."""
        viewer.require_manager()
        now, ledger = self._clock(), self._jobs
        start, end = month_start(now), next_month(now)
        earliest = start
        for _ in range(MONTHS_SHOWN - 1):
            earliest = previous_month(earliest)
        settings = await self._guilds.get(viewer.guild_id)
        return ServerUsage(
            guild_id=viewer.guild_id,
            month=await ledger.totals(guild_id=viewer.guild_id, since=start, until=end),
            monthly_budget_usd=settings.monthly_budget_usd,
            month_resets_at=end,
            by_member=await ledger.totals_by_member(
                guild_id=viewer.guild_id, since=start, until=end
            ),
            by_month=await ledger.totals_by_month(
                guild_id=viewer.guild_id, since=earliest, until=end
            ),
        )
