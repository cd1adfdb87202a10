"""What the jobs' SQL modules share: column encoding, the ledger's sums, the base class."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from bot.clock import Clock, utcnow
from bot.db.database import Connection, Database, Row
from bot.jobs.ledger import COUNTED_STATES, Totals
from bot.jobs.models import Box, Job, JobChanges
from bot.jobs.repository import MediaOwner
from bot.jobs.states import TERMINAL_STATES, JobState

_BOX_COLUMNS = frozenset({"face_box", "ext_box"})
# Waiting = not rendering yet: in our queue, or pending at the provider.
WAITING_STATES = (
    JobState.RECEIVED,
    JobState.PREPARING,
    JobState.QUEUED,
    JobState.SUBMITTING,
    JobState.SUBMITTED,
)
LIVE_STATES = tuple(state for state in JobState if not state.is_terminal)


def state_list(states: Sequence[JobState]) -> str:
    """An IN list of state names: enum values, never input, so they are written inline."""
    return ",".join(f"'{state.value}'" for state in states)


FINISHED = state_list(sorted(TERMINAL_STATES))
COUNTED = f"(state IN ({state_list(COUNTED_STATES)}) OR cost_usd IS NOT NULL)"
SUMS = (
    "COUNT(*) AS jobs, COALESCE(SUM(COALESCE(video_seconds, audio_seconds, 0)), 0) AS seconds,"
    " COALESCE(SUM(COALESCE(cost_usd, estimate_usd, 0)), 0) AS cost"
)
CLEAR_INPUTS = (
    "image_source_url = '', audio_source_url = '', image_url = NULL, audio_url = NULL,"
    " face_box = NULL, ext_box = NULL"
)


def encode(column: str, value: object) -> object:
    if value is None:
        return None
    if column in _BOX_COLUMNS and isinstance(value, Box):
        return json.dumps(value.as_list())
    return value


def decode(row: Row) -> Job:
    data: dict[str, Any] = dict(row)
    for column in _BOX_COLUMNS:
        if data.get(column) is not None:
            data[column] = Box.from_list(json.loads(data[column]))
    return Job.model_validate(data)


def totals_of(row: Row | None) -> Totals:
    if row is None:
        return Totals()
    return Totals(
        jobs=int(row["jobs"] or 0),
        seconds=float(row["seconds"] or 0),
        cost_usd=float(row["cost"] or 0),
    )


def changes_of(changes: JobChanges | None) -> dict[str, object]:
    if changes is None:
        return {}
    return {name: encode(name, getattr(changes, name)) for name in sorted(changes.model_fields_set)}


async def insert_event(
    tx: Connection,
    job_id: int,
    before: JobState | None,
    after: JobState,
    attempt: int,
    at: datetime,
) -> None:
    """The job's history: one row per change of state, in the change's transaction."""
    await tx.execute(
        "INSERT INTO job_events (job_id, from_state, to_state, attempt, at) VALUES (?, ?, ?, ?, ?)",
        (job_id, before.value if before else None, after.value, attempt, at),
    )


def owner_column(owner: MediaOwner) -> tuple[str, int]:
    if owner.user_id is not None:
        return "user_id", owner.user_id
    if owner.guild_id is not None:
        return "guild_id", owner.guild_id
    raise ValueError("a media owner names a member or a server")


async def ledger_totals(
    connection: Connection,
    *,
    guild_id: int,
    since: datetime,
    until: datetime,
    user_id: int | None = None,
    excluding: int | None = None,
) -> Totals:
    sql = f"SELECT {SUMS} FROM jobs WHERE guild_id = ? AND created_at >= ? AND created_at < ?"
    params: list[object] = [guild_id, since, until]
    if user_id is not None:
        sql += " AND user_id = ?"
        params.append(user_id)
    if excluding is not None:
        sql += " AND id != ?"
        params.append(excluding)
    return totals_of(await connection.fetch_one(f"{sql} AND {COUNTED}", params))


async def servers_totals(
    connection: Connection,
    *,
    since: datetime,
    until: datetime,
    excluding_guilds: Collection[int] = (),
    excluding: int | None = None,
) -> Totals:
    """The sums over every server's jobs on the operator's accounts (a job pinned to its
    server's own account is billed there) but those of ``excluding_guilds``."""
    sql = (
        f"SELECT {SUMS} FROM jobs WHERE created_at >= ? AND created_at < ? AND own_account IS NULL"
    )
    params: list[object] = [since, until]
    if excluding_guilds:
        sql += f" AND guild_id NOT IN ({', '.join('?' for _ in excluding_guilds)})"
        params.extend(sorted(excluding_guilds))
    if excluding is not None:
        sql += " AND id != ?"
        params.append(excluding)
    return totals_of(
        await connection.fetch_one(f"{sql} AND guild_id IS NOT NULL AND {COUNTED}", params)
    )


class TransactionLedger:
    """The LedgerView a guard sees: reads inside the transition's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def totals(
        self,
        *,
        guild_id: int,
        since: datetime,
        until: datetime,
        user_id: int | None = None,
        excluding: int | None = None,
    ) -> Totals:
        return await ledger_totals(
            self._connection,
            guild_id=guild_id,
            since=since,
            until=until,
            user_id=user_id,
            excluding=excluding,
        )

    async def servers_totals(
        self,
        *,
        since: datetime,
        until: datetime,
        excluding_guilds: Collection[int] = (),
        excluding: int | None = None,
    ) -> Totals:
        return await servers_totals(
            self._connection,
            since=since,
            until=until,
            excluding_guilds=excluding_guilds,
            excluding=excluding,
        )


class SqlBase:
    """The database, the clock that stamps rows, and the dialect's few differences."""

    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock
        # Null-safe equality: SQLite spells it IS, standard SQL IS NOT DISTINCT FROM.
        self._same = "IS" if db.dialect == "sqlite" else "IS NOT DISTINCT FROM"
