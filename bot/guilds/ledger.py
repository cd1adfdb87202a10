"""What counts against the quotas and the budget: sums over job rows.

A job counts from the moment it is queued: while on its way it counts with its audio length
and its estimate; once the provider billed it, with the billed seconds and the real cost.
Refused jobs, and jobs that ended before the provider billed them, do not count. A job
belongs to the UTC day and month in which the member asked for it (``created_at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite
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
_STATES = ",".join(f"'{state.value}'" for state in COUNTED_STATES)  # enum values: no input
COUNTED = f"(state IN ({_STATES}) OR cost_usd IS NOT NULL)"
SECONDS = "COALESCE(video_seconds, audio_seconds, 0)"
COST = "COALESCE(cost_usd, estimate_usd, 0)"
_SUMS = f"COUNT(*), COALESCE(SUM({SECONDS}), 0), COALESCE(SUM({COST}), 0)"


class Totals(BaseModel):
    """Videos, seconds of video and USD over some window."""

    model_config = ConfigDict(frozen=True)

    jobs: int = 0
    seconds: float = 0.0
    cost_usd: float = 0.0


def _totals(row: Sequence[Any] | None) -> Totals:
    if row is None:
        return Totals()
    jobs, seconds, cost = row[0], row[1], row[2]
    return Totals(jobs=int(jobs or 0), seconds=float(seconds or 0), cost_usd=float(cost or 0))


async def totals(
    db: aiosqlite.Connection,
    *,
    guild_id: int,
    since: datetime,
    until: datetime,
    user_id: int | None = None,
    excluding: int | None = None,
) -> Totals:
    """What ``guild_id`` (or one member there) used in ``[since, until)``, leaving out the
    job ``excluding`` (the one being admitted)."""
    sql = f"SELECT {_SUMS} FROM jobs WHERE guild_id = ? AND created_at >= ? AND created_at < ?"
    parameters: list[object] = [guild_id, since.isoformat(), until.isoformat()]
    if user_id is not None:
        sql += " AND user_id = ?"
        parameters.append(user_id)
    if excluding is not None:
        sql += " AND id != ?"
        parameters.append(excluding)
    cursor = await db.execute(f"{sql} AND {COUNTED}", parameters)
    return _totals(await cursor.fetchone())


async def by_member(
    db: aiosqlite.Connection, *, guild_id: int, since: datetime, until: datetime
) -> list[tuple[int, Totals]]:
    """Each member's use of ``guild_id`` in ``[since, until)``, the most expensive first."""
    cursor = await db.execute(
        f"SELECT user_id, {_SUMS} FROM jobs WHERE guild_id = ? AND created_at >= ?"
        f" AND created_at < ? AND {COUNTED} GROUP BY user_id ORDER BY 4 DESC, user_id",
        (guild_id, since.isoformat(), until.isoformat()),
    )
    return [(int(row[0]), _totals(tuple(row)[1:])) for row in await cursor.fetchall()]


async def by_month(
    db: aiosqlite.Connection, *, guild_id: int, since: datetime, until: datetime
) -> list[tuple[str, Totals]]:
    """``guild_id``'s use per calendar month (``YYYY-MM``, UTC) in ``[since, until)``,
    the latest first."""
    cursor = await db.execute(
        f"SELECT substr(created_at, 1, 7) AS month, {_SUMS} FROM jobs WHERE guild_id = ?"
        f" AND created_at >= ? AND created_at < ? AND {COUNTED} GROUP BY month"
        " ORDER BY month DESC",
        (guild_id, since.isoformat(), until.isoformat()),
    )
    return [(str(row[0]), _totals(tuple(row)[1:])) for row in await cursor.fetchall()]
