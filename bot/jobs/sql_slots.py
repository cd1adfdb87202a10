"""The provider's slots, and the claim: a queued job is taken together with a free slot row.

A slot is a row (account, number) naming the job that last took it. It is free when no task
of that job can be at the provider: the job is neither SUBMITTING nor SUBMITTED, and its
``slot_held_until`` (an uncertain end) has passed. So a slot frees itself when its job's
state moves on, by the one writer; never because a process died, since the provider keeps
rendering then and the row stays SUBMITTED.

The claim runs in one transaction: it takes a free slot row (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's write lock serialises transactions anyway), lets the dispatcher choose
from the rows as they stand, moves the chosen job to SUBMITTING and puts it in the slot.
Claims of every process also take one named lock per account, so the fair order and the
look-ahead are decided by one claimer at a time. The claim writes the account on the job
(its task id is valid only with that account's key); an account's view of the tasks in
flight is its own jobs only.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from bot.db.database import Connection
from bot.jobs.models import Job, JobChanges
from bot.jobs.planning import Usage
from bot.jobs.repository import Choose, Claimed, StaleJobStateError
from bot.jobs.sql_common import SqlBase, changes_of, decode, insert_event, state_list
from bot.jobs.sql_queue import (
    SHARED_LANE,
    Lane,
    jobs_in_states,
    next_not_before,
    queue_heads,
    queue_usage,
)
from bot.jobs.states import JobState, check_transition

_IN_FLIGHT = (JobState.SUBMITTING, JobState.SUBMITTED)
_BUSY = state_list(_IN_FLIGHT)
# The slot's job may have a task at the provider (or may soon): the slot is taken.
_TAKEN = f"(j.state IN ({_BUSY}) OR (j.slot_held_until IS NOT NULL AND j.slot_held_until > ?))"


def claim_lock(account: str) -> str:
    return f"emo-bot claim {account}"


class _TransactionView:
    """``ClaimView`` over the claim's transaction."""

    def __init__(self, tx: Connection, account: str, lane: Lane) -> None:
        self._tx = tx
        self._account = account
        self._lane = lane

    async def loads(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for job in await jobs_in_states(self._tx, _IN_FLIGHT):
            if job.account is not None:
                found[job.account] = found.get(job.account, 0) + 1
        return found

    async def in_flight(self) -> list[Job]:
        return [
            job
            for job in await jobs_in_states(self._tx, _IN_FLIGHT)
            if job.account == self._account
        ]

    async def queue_heads(self, now: datetime) -> list[Job]:
        return await queue_heads(self._tx, now, self._lane)

    async def next_not_before(self) -> datetime | None:
        return await next_not_before(self._tx, self._lane)

    async def usage(self, since: datetime) -> Usage:
        return await queue_usage(self._tx, since)


class SlotRecords(SqlBase):
    """The slots' SQL (``SqlJobRepository`` inherits it)."""

    async def ensure_slots(
        self, account: str, capacity: int, adopt_besides: Collection[str] | None = None
    ) -> None:
        now = self._clock()
        async with self._db.transaction() as tx:
            await tx.lock(claim_lock(account))
            if adopt_besides is not None:
                await _adopt(tx, account, adopt_besides)
            for number in range(capacity):
                await tx.execute(
                    "INSERT INTO provider_slots (account, slot) VALUES (?, ?)"
                    " ON CONFLICT (account, slot) DO NOTHING",
                    (account, number),
                )
            holders = await self._holders(tx, account, now)
            # Tasks in flight that hold no slot (a database from before slots, or a copy):
            # each gets one, so the count at the provider is never underestimated.
            placed = {job for job in holders.values() if job is not None}
            orphans = [
                job.id
                for job in await jobs_in_states(tx, _IN_FLIGHT)
                if job.id not in placed
                and job.slot_held_until is None
                and job.account in (account, None)  # None: from before accounts
            ]
            free = [number for number, job in sorted(holders.items()) if job is None]
            extra = max([capacity - 1, *holders]) + 1
            for job_id in orphans:
                if free:
                    number = free.pop(0)
                else:
                    number, extra = extra, extra + 1
                await tx.execute(
                    "INSERT INTO provider_slots (account, slot, job_id) VALUES (?, ?, ?)"
                    " ON CONFLICT (account, slot) DO UPDATE SET job_id = excluded.job_id",
                    (account, number, job_id),
                )
            # Slots past the capacity go once they are free (a lowered capacity).
            for number, job in holders.items():
                if number >= capacity and job is None:
                    await tx.execute(
                        "DELETE FROM provider_slots WHERE account = ? AND slot = ?",
                        (account, number),
                    )

    async def _holders(self, tx: Connection, account: str, now: datetime) -> dict[int, int | None]:
        rows = await tx.fetch_all(
            f"SELECT s.slot, s.job_id, CASE WHEN {_TAKEN} THEN 1 ELSE 0 END AS taken"
            " FROM provider_slots s LEFT JOIN jobs j ON j.id = s.job_id"
            " WHERE s.account = ? ORDER BY s.slot",
            (now, account),
        )
        return {int(row["slot"]): int(row["job_id"]) if row["taken"] else None for row in rows}

    async def slot_holders(self, account: str) -> dict[int, int | None]:
        return await self._holders(self._db, account, self._clock())

    async def busy_slots(self) -> dict[str, int]:
        rows = await self._db.fetch_all(
            "SELECT s.account, COUNT(*) AS busy FROM provider_slots s"
            f" JOIN jobs j ON j.id = s.job_id WHERE {_TAKEN} GROUP BY s.account",
            (self._clock(),),
        )
        return {str(row["account"]): int(row["busy"]) for row in rows}

    async def claim(
        self,
        account: str,
        capacity: int,
        choose: Choose,
        changes: JobChanges,
        *,
        own: bool = False,
    ) -> Claimed | None:
        check_transition(JobState.QUEUED, JobState.SUBMITTING)
        values = changes_of(changes)
        assignments = "".join(f", {name} = ?" for name in values)
        skip_locked = " FOR UPDATE OF s SKIP LOCKED" if self._db.dialect == "postgres" else ""
        async with self._db.transaction() as tx:
            await tx.lock(claim_lock(account))
            now = self._clock()
            free = await tx.fetch_one(
                "SELECT s.slot FROM provider_slots s LEFT JOIN jobs j ON j.id = s.job_id"
                f" WHERE s.account = ? AND s.slot < ? AND (j.id IS NULL OR NOT {_TAKEN})"
                f" ORDER BY s.slot LIMIT 1{skip_locked}",
                (account, capacity, now),
            )
            if free is None:
                return None
            lane = Lane(account) if own else SHARED_LANE
            chosen = await choose(_TransactionView(tx, account, lane))
            if chosen is None:
                return None
            changed = await tx.execute(
                "UPDATE jobs SET state = ?, attempt = attempt + 1, updated_at = ?, account = ?"
                f"{assignments} WHERE id = ? AND state = ?",
                [
                    JobState.SUBMITTING.value,
                    now,
                    account,
                    *values.values(),
                    chosen.id,
                    chosen.state.value,
                ],
            )
            if changed != 1:
                raise StaleJobStateError(chosen.id, chosen.state)
            await tx.execute(
                "UPDATE provider_slots SET job_id = ? WHERE account = ? AND slot = ?",
                (chosen.id, account, free["slot"]),
            )
            await insert_event(
                tx, chosen.id, chosen.state, JobState.SUBMITTING, chosen.attempt + 1, now
            )
            row = await tx.fetch_one("SELECT * FROM jobs WHERE id = ?", (chosen.id,))
        assert row is not None
        return Claimed(before=chosen, after=decode(row), slot=int(free["slot"]))


async def _adopt(tx: Connection, account: str, others: Collection[str]) -> None:
    """Tasks in flight of no account configured now (a database from before accounts, whose
    rows name none, or the lone account's ``default``) become ``account``'s. Never a job
    pinned to a server's own account: its task answers only to that server's key."""
    known = [account, *others]
    marks = ", ".join("?" for _ in known)
    await tx.execute(
        f"UPDATE jobs SET account = ? WHERE state IN ({_BUSY}) AND own_account IS NULL"
        f" AND (account IS NULL OR account NOT IN ({marks}))",
        (account, *known),
    )
