"""The jobs' SQL for money, the audit and retention (``SqlJobRepository`` inherits it)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from bot.jobs.ledger import Totals
from bot.jobs.models import Job
from bot.jobs.repository import JobSearch, MediaOwner
from bot.jobs.sql_common import (
    CLEAR_INPUTS,
    COUNTED,
    FINISHED,
    SUMS,
    SqlBase,
    decode,
    ledger_totals,
    owner_column,
    servers_totals,
    totals_of,
)


class JobRecords(SqlBase):
    # -- money and the audit ----------------------------------------------------------------

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
            self._db,
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
            self._db,
            since=since,
            until=until,
            excluding_guilds=excluding_guilds,
            excluding=excluding,
        )

    async def totals_by_member(
        self, *, guild_id: int, since: datetime, until: datetime
    ) -> list[tuple[int, Totals]]:
        rows = await self._db.fetch_all(
            f"SELECT user_id, {SUMS} FROM jobs WHERE guild_id = ? AND created_at >= ?"
            f" AND created_at < ? AND {COUNTED} GROUP BY user_id ORDER BY cost DESC, user_id",
            (guild_id, since, until),
        )
        return [(int(row["user_id"]), totals_of(row)) for row in rows]

    async def totals_by_month(
        self, *, guild_id: int, since: datetime, until: datetime
    ) -> list[tuple[str, Totals]]:
        month = (
            "substr(created_at, 1, 7)"
            if self._db.dialect == "sqlite"
            else "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM')"
        )
        rows = await self._db.fetch_all(
            f"SELECT {month} AS month, {SUMS} FROM jobs WHERE guild_id = ?"
            f" AND created_at >= ? AND created_at < ? AND {COUNTED} GROUP BY month"
            " ORDER BY month DESC",
            (guild_id, since, until),
        )
        return [(str(row["month"]), totals_of(row)) for row in rows]

    async def spend_by_account(self, *, since: datetime, until: datetime) -> dict[str, float]:
        rows = await self._db.fetch_all(
            "SELECT account, COALESCE(SUM(cost_usd), 0) AS cost FROM jobs"
            " WHERE account IS NOT NULL AND cost_usd IS NOT NULL"
            " AND created_at >= ? AND created_at < ? GROUP BY account",
            (since, until),
        )
        return {str(row["account"]): float(row["cost"] or 0) for row in rows}

    async def search(self, search: JobSearch) -> tuple[int, list[Job]]:
        where: list[str] = ["guild_id = ?"]
        params: list[object] = [search.guild_id]
        if search.user_id is not None:
            where.append("user_id = ?")
            params.append(search.user_id)
        if search.state is not None:
            where.append("state = ?")
            params.append(search.state.value)
        if search.created_since is not None:
            where.append("created_at >= ?")
            params.append(search.created_since)
        if search.created_before is not None:
            where.append("created_at < ?")
            params.append(search.created_before)
        condition = " AND ".join(where)
        counted = await self._db.fetch_one(
            f"SELECT COUNT(*) AS n FROM jobs WHERE {condition}", params
        )
        rows = await self._db.fetch_all(
            f"SELECT * FROM jobs WHERE {condition} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*params, search.limit, search.offset],
        )
        return (int(counted["n"]) if counted else 0), [decode(row) for row in rows]

    # -- retention --------------------------------------------------------------------------

    async def _finished_ids(self, condition: str, params: Sequence[object]) -> list[int]:
        rows = await self._db.fetch_all(
            f"SELECT id FROM jobs WHERE state IN ({FINISHED}) AND {condition} ORDER BY id",
            params,
        )
        return [int(row["id"]) for row in rows]

    async def inputs_due(self, before: datetime) -> list[int]:
        return await self._finished_ids("inputs_purged_at IS NULL AND created_at < ?", [before])

    async def outputs_due(self, before: datetime) -> list[int]:
        return await self._finished_ids(
            "outputs_purged_at IS NULL AND COALESCE(delivered_at, finished_at, updated_at) < ?",
            [before],
        )

    async def mark_purged(self, job_id: int, *, inputs: bool, outputs: bool, at: datetime) -> None:
        sets: list[str] = []
        if inputs:
            sets.append(f"{CLEAR_INPUTS}, inputs_purged_at = COALESCE(inputs_purged_at, ?)")
        if outputs:
            sets.append("result_url = NULL, outputs_purged_at = COALESCE(outputs_purged_at, ?)")
        if not sets:
            return
        await self._db.execute(
            f"UPDATE jobs SET {', '.join(sets)} WHERE id = ? AND state IN ({FINISHED})",
            [*([at] * len(sets)), job_id],
        )

    async def last_id(self) -> int:
        row = await self._db.fetch_one("SELECT COALESCE(MAX(id), 0) AS last FROM jobs")
        return int(row["last"]) if row else 0

    async def media_kept(self, owner: MediaOwner, up_to: int) -> list[int]:
        column, value = owner_column(owner)
        return await self._finished_ids(
            f"{column} = ? AND id <= ? AND (inputs_purged_at IS NULL OR outputs_purged_at IS NULL)",
            [value, up_to],
        )

    async def unfinished(self, owner: MediaOwner, up_to: int) -> int:
        column, value = owner_column(owner)
        row = await self._db.fetch_one(
            f"SELECT COUNT(*) AS n FROM jobs WHERE {column} = ? AND id <= ?"
            f" AND state NOT IN ({FINISHED})",
            (value, up_to),
        )
        return int(row["n"]) if row else 0

    async def existing(self, job_ids: Sequence[int]) -> set[int]:
        if not job_ids:
            return set()
        marks = ",".join("?" for _ in job_ids)
        rows = await self._db.fetch_all(f"SELECT id FROM jobs WHERE id IN ({marks})", job_ids)
        return {int(row["id"]) for row in rows}
