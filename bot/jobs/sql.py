"""The jobs' SQL, in one place: ``JobRepository`` over the database layer.

Written for every backend the database layer offers (``?`` placeholders, plain values); the
few spots where dialects differ say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.clock import as_utc
from bot.db.database import Connection
from bot.jobs.models import AnimateRequest, Job, JobChanges
from bot.jobs.own_accounts import TaskHolder
from bot.jobs.planning import Usage
from bot.jobs.repository import (
    CapExceededError,
    Caps,
    Guard,
    JobNotFoundError,
    Lease,
    RetryPendingError,
    StaleJobStateError,
)
from bot.jobs.sql_common import (
    LIVE_STATES,
    WAITING_STATES,
    TransactionLedger,
    changes_of,
    decode,
    insert_event,
    state_list,
)
from bot.jobs.sql_custody import CustodyRecords
from bot.jobs.sql_queue import jobs_in_states, next_not_before, queue_heads, queue_usage
from bot.jobs.sql_records import JobRecords
from bot.jobs.sql_slots import SlotRecords
from bot.jobs.states import TERMINAL_STATES, JobState, check_transition

ADMISSION_LOCK = "emo-bot admission"
"""Held by every transaction that counts jobs to admit one (caps, quotas, budgets)."""


class SqlJobRepository(SlotRecords, CustodyRecords, JobRecords):
    """``JobRepository`` on the database layer. ``clock`` stamps created/updated times."""

    # -- rows and their states -------------------------------------------------------------

    async def create(
        self,
        request: AnimateRequest,
        caps: Caps,
        lease: Lease | None = None,
        own_account: str | None = None,
    ) -> Job:
        now = self._clock()
        async with self._db.transaction() as tx:
            # Counted and written by one process at a time, whichever process asks.
            await tx.lock(ADMISSION_LOCK)
            await self._check_caps(tx, request, caps)
            job_id = await tx.insert(
                "INSERT INTO jobs (state, guild_id, channel_id, user_id, locale, style, framing,"
                " trim_audio, upload_limit_bytes, image_source_url, audio_source_url,"
                " created_at, updated_at, deliver_dm, retry_of, requested_by, lease_owner,"
                " lease_until, confirm_first, own_account)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    JobState.RECEIVED.value,
                    request.guild_id,
                    request.channel_id,
                    request.user_id,
                    request.locale,
                    request.style.value,
                    request.framing.value,
                    request.trim,
                    request.upload_limit_bytes,
                    request.image.url,
                    request.audio.url,
                    now,
                    now,
                    request.deliver_dm,
                    request.retry_of,
                    request.requested_by,
                    lease.owner if lease else None,
                    lease.until if lease else None,
                    request.confirm_first,
                    own_account,
                ),
            )
            await insert_event(tx, job_id, None, JobState.RECEIVED, 0, now)
        return await self.get(job_id)

    async def _count(self, tx: Connection, sql: str, params: Sequence[object]) -> int:
        row = await tx.fetch_one(f"SELECT COUNT(*) AS n FROM jobs WHERE {sql}", params)
        return int(row["n"]) if row else 0

    async def _check_caps(self, tx: Connection, request: AnimateRequest, caps: Caps) -> None:
        live = state_list(LIVE_STATES)
        if request.retry_of is not None:
            pending = await self._count(
                tx, f"retry_of = ? AND state IN ({live})", [request.retry_of]
            )
            if pending:
                raise RetryPendingError(request.retry_of)
        if caps.active_per_member is not None:
            active = await self._count(tx, f"user_id = ? AND state IN ({live})", [request.user_id])
            if active >= caps.active_per_member:
                raise CapExceededError("member", active, caps.active_per_member)
        if caps.queued_per_server is not None:
            queued = await self._count(
                tx,
                f"guild_id {self._same} ? AND started_at IS NULL"
                f" AND state IN ({state_list(WAITING_STATES)})",
                [request.guild_id],
            )
            if queued >= caps.queued_per_server:
                raise CapExceededError("server", queued, caps.queued_per_server)

    async def get(self, job_id: int) -> Job:
        row = await self._db.fetch_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise JobNotFoundError(job_id)
        return decode(row)

    async def in_states(self, states: Sequence[JobState]) -> list[Job]:
        return await jobs_in_states(self._db, states)

    async def transition(
        self,
        job: Job,
        target: JobState,
        changes: JobChanges | None = None,
        guard: Guard | None = None,
    ) -> Job:
        check_transition(job.state, target)
        values = changes_of(changes)
        now = self._clock()
        assignments = "".join(f", {name} = ?" for name in values)
        async with self._db.transaction() as tx:
            if guard is not None:
                await tx.lock(ADMISSION_LOCK)  # the quotas' sums cannot change under the guard
                await guard(TransactionLedger(tx))
            changed = await tx.execute(
                f"UPDATE jobs SET state = ?, updated_at = ?{assignments}"
                " WHERE id = ? AND state = ?",
                [target.value, now, *values.values(), job.id, job.state.value],
            )
            if changed != 1:
                raise StaleJobStateError(job.id, job.state)
            attempt = changes.attempt if changes and "attempt" in values else job.attempt
            await insert_event(tx, job.id, job.state, target, attempt, now)
        return await self.get(job.id)

    async def annotate(self, job: Job, changes: JobChanges) -> Job:
        values = changes_of(changes)
        if not values:
            return job
        assignments = ", ".join(f"{name} = ?" for name in values)
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                f"UPDATE jobs SET updated_at = ?, {assignments} WHERE id = ? AND state = ?",
                [self._clock(), *values.values(), job.id, job.state.value],
            )
            if changed != 1:
                raise StaleJobStateError(job.id, job.state)
        return await self.get(job.id)

    async def history(self, job_id: int) -> list[JobState]:
        rows = await self._db.fetch_all(
            "SELECT to_state FROM job_events WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [JobState(row["to_state"]) for row in rows]

    # -- what the engine reads ------------------------------------------------------------

    async def usage(self, since: datetime) -> Usage:
        return await queue_usage(self._db, since)

    async def queue_heads(self, now: datetime) -> list[Job]:
        return await queue_heads(self._db, now)

    async def next_not_before(self) -> datetime | None:
        return await next_not_before(self._db)

    async def render_history(self, limit: int = 50) -> list[tuple[float, float]]:
        rows = await self._db.fetch_all(
            "SELECT audio_seconds, render_seconds FROM jobs"
            " WHERE render_seconds IS NOT NULL AND audio_seconds IS NOT NULL"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [(float(row["audio_seconds"]), float(row["render_seconds"])) for row in rows]

    async def known_task_ids(self) -> set[str]:
        rows = await self._db.fetch_all(
            "SELECT task_id FROM jobs WHERE task_id IS NOT NULL"
            " UNION SELECT retried_task_id FROM jobs WHERE retried_task_id IS NOT NULL"
        )
        return {str(row["task_id"]) for row in rows}

    async def tasks_since(self, since: datetime, *, account: str) -> dict[str, datetime]:
        rows = await self._db.fetch_all(
            "SELECT task_id, submitted_at FROM jobs WHERE task_id IS NOT NULL"
            " AND submitted_at >= ? AND account = ?",
            (since, account),
        )
        found = {str(row["task_id"]): as_utc(row["submitted_at"]) for row in rows}
        return {task: at for task, at in found.items() if at is not None}

    async def task_holders(self, since: datetime) -> dict[str, TaskHolder]:
        rows = await self._db.fetch_all(
            "SELECT task_id, guild_id, own_account FROM jobs WHERE task_id IS NOT NULL"
            " AND submitted_at >= ?",
            (since,),
        )
        return {
            str(row["task_id"]): TaskHolder(
                int(row["guild_id"]),
                None if row["own_account"] is None else str(row["own_account"]),
            )
            for row in rows
        }

    async def recent(self, *, user_id: int | None, guild_id: int | None, limit: int) -> list[Job]:
        sql, params = f"SELECT * FROM jobs WHERE guild_id {self._same} ?", [guild_id]
        if user_id is not None:
            sql += " AND user_id = ?"
            params.append(user_id)
        rows = await self._db.fetch_all(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
        return [decode(row) for row in rows]

    async def count_by_state(self) -> dict[JobState, int]:
        rows = await self._db.fetch_all("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        return {JobState(row["state"]): int(row["n"]) for row in rows}

    async def queued_by_lane(self) -> dict[str | None, int]:
        rows = await self._db.fetch_all(
            "SELECT own_account, COUNT(*) AS n FROM jobs WHERE state = ? GROUP BY own_account",
            (JobState.QUEUED.value,),
        )
        return {row["own_account"]: int(row["n"]) for row in rows}

    async def unfinished_on(self, own_account: str) -> int:
        row = await self._db.fetch_one(
            "SELECT COUNT(*) AS n FROM jobs WHERE own_account = ?"
            f" AND state NOT IN ({state_list(sorted(TERMINAL_STATES))})",
            (own_account,),
        )
        return int(row["n"]) if row else 0
