"""The queue's reads, on any connection: the repository's own, or a claim's transaction (the
dispatcher decides from the rows as they stand inside the claim)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.clock import as_utc
from bot.db.database import Connection
from bot.jobs.models import Job
from bot.jobs.planning import Usage
from bot.jobs.sql_common import decode, state_list
from bot.jobs.states import JobState


async def jobs_in_states(connection: Connection, states: Sequence[JobState]) -> list[Job]:
    rows = await connection.fetch_all(
        f"SELECT * FROM jobs WHERE state IN ({state_list(states)}) ORDER BY id"
    )
    return [decode(row) for row in rows]


async def queue_usage(connection: Connection, since: datetime) -> Usage:
    """Each server's demand since ``since`` (submitted then, or waiting now) and its latest
    submission."""
    rows = await connection.fetch_all(
        "SELECT guild_id,"
        " COALESCE(SUM(CASE WHEN submitted_at >= ? THEN 1 ELSE 0 END), 0)"
        " + COALESCE(SUM(CASE WHEN state = ? THEN 1 ELSE 0 END), 0) AS demand,"
        " MAX(submitted_at) AS latest"
        " FROM jobs WHERE queued_at IS NOT NULL GROUP BY guild_id",
        (since, JobState.QUEUED.value),
    )
    recent: dict[int | None, int] = {}
    last: dict[int | None, datetime] = {}
    for row in rows:
        recent[row["guild_id"]] = int(row["demand"] or 0)
        latest = as_utc(row["latest"])
        if latest is not None:
            last[row["guild_id"]] = latest
    return Usage(recent=recent, last_served=last)


@dataclass(frozen=True)
class Lane:
    """Which queued jobs an account may take: those pinned to it (a server's own account),
    or those pinned to none (the operator's accounts). ``EVERY_LANE``: the whole queue."""

    own_account: str | None
    every: bool = False

    def clause(self) -> tuple[str, tuple[object, ...]]:
        if self.every:
            return "", ()
        if self.own_account is None:
            return " AND own_account IS NULL", ()
        return " AND own_account = ?", (self.own_account,)


EVERY_LANE = Lane(None, every=True)
SHARED_LANE = Lane(None)


async def queue_heads(connection: Connection, now: datetime, lane: Lane = EVERY_LANE) -> list[Job]:
    """The oldest eligible queued job of each server, in ``lane``."""
    where, params = lane.clause()
    rows = await connection.fetch_all(
        "SELECT * FROM jobs WHERE id IN (SELECT MIN(id) FROM jobs WHERE state = ?"
        f" AND (not_before IS NULL OR not_before <= ?){where} GROUP BY guild_id)",
        (JobState.QUEUED.value, now, *params),
    )
    return [decode(row) for row in rows]


async def next_not_before(connection: Connection, lane: Lane = EVERY_LANE) -> datetime | None:
    """When the earliest backed-off queued job in ``lane`` becomes eligible."""
    where, params = lane.clause()
    row = await connection.fetch_one(
        "SELECT MIN(not_before) AS soonest FROM jobs WHERE state = ?"
        f" AND not_before IS NOT NULL{where}",
        (JobState.QUEUED.value, *params),
    )
    return as_utc(row["soonest"]) if row else None
