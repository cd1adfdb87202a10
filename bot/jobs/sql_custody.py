"""The jobs' leases in SQL: which process works on a job, renewed and taken over."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from bot.jobs.models import Job
from bot.jobs.repository import Lease
from bot.jobs.sql_common import SqlBase, decode, state_list
from bot.jobs.states import JobState

_FREE = "(lease_owner IS NULL OR lease_until IS NULL OR lease_until < ?)"


class CustodyRecords(SqlBase):
    """The leases' SQL (``SqlJobRepository`` inherits it)."""

    async def renew_leases(self, owner: str, job_ids: Collection[int], until: datetime) -> set[int]:
        if not job_ids:
            return set()
        ids = sorted(job_ids)
        marks = ",".join("?" for _ in ids)
        async with self._db.transaction() as tx:
            await tx.execute(
                f"UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND id IN ({marks})",
                [until, owner, *ids],
            )
            rows = await tx.fetch_all(
                f"SELECT id FROM jobs WHERE lease_owner = ? AND id IN ({marks})", [owner, *ids]
            )
        return {int(row["id"]) for row in rows}

    async def lapsed(
        self, states: Sequence[JobState], now: datetime, *, owner: str | None = None
    ) -> list[Job]:
        sql = f"SELECT * FROM jobs WHERE state IN ({state_list(states)}) AND ({_FREE}"
        params: list[object] = [now]
        if owner is not None:
            sql += " OR lease_owner = ?"
            params.append(owner)
        rows = await self._db.fetch_all(sql + ") ORDER BY id", params)
        return [decode(row) for row in rows]

    async def take_lease(self, job: Job, lease: Lease, now: datetime) -> Job | None:
        changed = await self._db.execute(
            "UPDATE jobs SET lease_owner = ?, lease_until = ?"
            f" WHERE id = ? AND state = ? AND ({_FREE} OR lease_owner = ?)",
            (lease.owner, lease.until, job.id, job.state.value, now, lease.owner),
        )
        if changed != 1:
            return None
        row = await self._db.fetch_one("SELECT * FROM jobs WHERE id = ?", (job.id,))
        return None if row is None else decode(row)
