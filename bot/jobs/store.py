"""The job store: SQLite through aiosqlite, the single source of truth for every job."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
from pydantic import BaseModel, ConfigDict

from bot.jobs.models import AnimateRequest, Box, Job
from bot.jobs.planning import Usage
from bot.jobs.states import JobState, check_transition

log = logging.getLogger(__name__)

# Each entry upgrades the schema by one version; never edit a released entry, append instead.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        state TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        guild_id INTEGER,
        channel_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        locale TEXT NOT NULL,
        style TEXT NOT NULL,
        framing TEXT NOT NULL,
        upload_limit_bytes INTEGER NOT NULL,
        image_source_url TEXT NOT NULL,
        audio_source_url TEXT NOT NULL,
        audio_seconds REAL,
        image_url TEXT,
        audio_url TEXT,
        face_box TEXT,
        ext_box TEXT,
        task_id TEXT UNIQUE,
        result_url TEXT,
        video_seconds REAL,
        cost_usd REAL,
        message_id INTEGER,
        error_key TEXT,
        error_detail TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        submitted_at TEXT,
        finished_at TEXT,
        delivered_at TEXT
    );
    CREATE INDEX jobs_by_state ON jobs (state, id);
    CREATE TABLE job_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs (id),
        from_state TEXT,
        to_state TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX job_events_by_job ON job_events (job_id, id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    ALTER TABLE jobs ADD COLUMN trim_audio INTEGER NOT NULL DEFAULT 0;
    """,
    """
    ALTER TABLE jobs ADD COLUMN not_before TEXT;
    ALTER TABLE jobs ADD COLUMN queued_at TEXT;
    ALTER TABLE jobs ADD COLUMN started_at TEXT;
    ALTER TABLE jobs ADD COLUMN render_seconds REAL;
    ALTER TABLE jobs ADD COLUMN polls INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX jobs_by_guild ON jobs (guild_id, state);
    CREATE INDEX jobs_by_user ON jobs (user_id, state);
    """,
    """
    ALTER TABLE jobs ADD COLUMN card_message_id INTEGER;
    ALTER TABLE jobs ADD COLUMN card_state TEXT;
    ALTER TABLE jobs ADD COLUMN notice_message_id INTEGER;
    ALTER TABLE jobs ADD COLUMN retry_of INTEGER REFERENCES jobs (id);
    ALTER TABLE jobs ADD COLUMN requested_by INTEGER;
    ALTER TABLE jobs ADD COLUMN deliver_dm INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN cancel_requested_at TEXT;
    ALTER TABLE jobs ADD COLUMN image_sha256 TEXT;
    ALTER TABLE jobs ADD COLUMN audio_sha256 TEXT;
    ALTER TABLE jobs ADD COLUMN estimate_usd REAL;
    CREATE INDEX jobs_by_card ON jobs (card_message_id);
    CREATE INDEX jobs_by_message ON jobs (message_id);
    CREATE INDEX jobs_by_notice ON jobs (notice_message_id);
    CREATE INDEX jobs_by_retry ON jobs (retry_of, state);
    """,
    # v5, server administration (bot/guilds/): per-server settings and their history,
    # pending media erasures, and when each job's cached media were deleted.
    """
    CREATE TABLE guild_settings (
        guild_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_by INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (guild_id, name)
    );
    CREATE TABLE guild_settings_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        old_value TEXT,
        new_value TEXT,
        changed_by INTEGER NOT NULL,
        changed_at TEXT NOT NULL
    );
    CREATE INDEX guild_settings_changes_by_guild ON guild_settings_changes (guild_id, id);
    CREATE TABLE media_erasures (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id INTEGER,
        user_id INTEGER,
        up_to_job_id INTEGER NOT NULL,
        requested_at TEXT NOT NULL
    );
    ALTER TABLE jobs ADD COLUMN inputs_purged_at TEXT;
    ALTER TABLE jobs ADD COLUMN outputs_purged_at TEXT;
    CREATE INDEX jobs_by_guild_created ON jobs (guild_id, created_at);
    CREATE INDEX jobs_by_user_created ON jobs (user_id, created_at);
    """,
)

_BOX_COLUMNS = frozenset({"face_box", "ext_box"})
WAITING_STATES = (
    JobState.RECEIVED,
    JobState.PREPARING,
    JobState.QUEUED,
    JobState.SUBMITTING,
    JobState.SUBMITTED,
)


class JobUpdate(BaseModel):
    """Columns a transition may change; unset fields are left as they are."""

    model_config = ConfigDict(frozen=True)

    attempt: int | None = None
    audio_seconds: float | None = None
    image_url: str | None = None
    audio_url: str | None = None
    face_box: Box | None = None
    ext_box: Box | None = None
    task_id: str | None = None
    result_url: str | None = None
    video_seconds: float | None = None
    cost_usd: float | None = None
    message_id: int | None = None
    error_key: str | None = None
    error_detail: str | None = None
    submitted_at: datetime | None = None
    finished_at: datetime | None = None
    delivered_at: datetime | None = None
    not_before: datetime | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    render_seconds: float | None = None
    polls: int | None = None
    card_message_id: int | None = None
    card_state: str | None = None
    notice_message_id: int | None = None
    cancel_requested_at: datetime | None = None
    image_sha256: str | None = None
    audio_sha256: str | None = None
    estimate_usd: float | None = None


@dataclass(frozen=True)
class Caps:
    """Limits checked when a job is created (None: no limit)."""

    active_per_member: int | None = None
    queued_per_server: int | None = None


class CapExceededError(Exception):
    """A new job would break a cap: ``scope`` is "member" or "server"."""

    def __init__(self, scope: str, count: int, limit: int) -> None:
        super().__init__(f"{scope} cap: {count} of {limit}")
        self.scope = scope
        self.count = count
        self.limit = limit


class RetryPendingError(Exception):
    """A retry of this job is already on its way: a second one would only pay twice."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"a retry of job {job_id} is already on its way")
        self.job_id = job_id


TransitionGuard = Callable[[aiosqlite.Connection], Awaitable[None]]
"""Checked inside a transition's transaction; raises to refuse it."""

TransitionObserver = Callable[[Job, Job], None]
"""Told (before, after) of every state change once it is written; must not block."""


class StaleJobStateError(RuntimeError):
    """The row was no longer in the expected state: another worker moved it first."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _encode(column: str, value: object) -> object:
    if value is None:
        return None
    if column in _BOX_COLUMNS and isinstance(value, Box):
        return json.dumps(value.as_list())
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _decode_row(row: aiosqlite.Row) -> Job:
    data: dict[str, Any] = dict(row)
    for column in _BOX_COLUMNS:
        if data[column] is not None:
            data[column] = Box.from_list(json.loads(data[column]))
    return Job.model_validate(data)


class JobStore:
    """Reads and writes job rows. Every state change is a compare-and-set on the row."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None
        # One connection is shared by many coroutines: transactions must not interleave.
        self._write_lock = asyncio.Lock()
        self._observers: list[TransitionObserver] = []

    def add_observer(self, observer: TransitionObserver) -> None:
        """Call ``observer(before, after)`` after each successful transition (for metrics)."""
        self._observers.append(observer)

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self._path, isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        # Several bot processes may share one database; wait for a lock instead of failing.
        await db.execute("PRAGMA busy_timeout=10000")
        await db.execute("PRAGMA foreign_keys=ON")
        self._db = db
        await self._migrate()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("JobStore.open() was not awaited")
        return self._db

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction (BEGIN IMMEDIATE): other processes wait until it ends, so
        reads inside it and the writes that depend on them cannot interleave with theirs."""
        async with self._write_lock:
            db = self.db
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def _migrate(self) -> None:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            version = (await (await db.execute("PRAGMA user_version")).fetchone() or (0,))[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {number}")
                log.info("database migrated to schema version %d", number)
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise

    async def schema_version(self) -> int:
        row = await (await self.db.execute("PRAGMA user_version")).fetchone()
        return int(row[0]) if row else 0

    async def create(self, request: AnimateRequest, caps: Caps | None = None) -> Job:
        """Write the row for a new job in state RECEIVED.

        The caps are checked in the same transaction as the insert, so two processes cannot
        both squeeze in past a limit. Raises CapExceededError.
        """
        now = utcnow().isoformat()
        async with self._write_lock:
            job_id = await self._insert_job(request, now, caps or Caps())
        return await self.get(job_id)

    async def _count(self, sql: str, parameters: Sequence[object]) -> int:
        row = await (await self.db.execute(sql, parameters)).fetchone()
        return int(row[0]) if row else 0

    async def _check_caps(self, request: AnimateRequest, caps: Caps) -> None:
        live = [state.value for state in JobState if not state.is_terminal]
        marks = ",".join("?" for _ in live)
        if request.retry_of is not None:
            pending = await self._count(
                f"SELECT COUNT(*) FROM jobs WHERE retry_of = ? AND state IN ({marks})",
                [request.retry_of, *live],
            )
            if pending:
                raise RetryPendingError(request.retry_of)
        if caps.active_per_member is not None:
            active = await self._count(
                f"SELECT COUNT(*) FROM jobs WHERE user_id = ? AND state IN ({marks})",
                [request.user_id, *live],
            )
            if active >= caps.active_per_member:
                raise CapExceededError("member", active, caps.active_per_member)
        if caps.queued_per_server is not None:
            # Waiting = not rendering yet: in our queue, or pending at the provider.
            waiting = [state.value for state in WAITING_STATES]
            queued = await self._count(
                "SELECT COUNT(*) FROM jobs WHERE guild_id IS ? AND started_at IS NULL"
                f" AND state IN ({','.join('?' for _ in waiting)})",
                [request.guild_id, *waiting],
            )
            if queued >= caps.queued_per_server:
                raise CapExceededError("server", queued, caps.queued_per_server)

    async def _insert_job(self, request: AnimateRequest, now: str, caps: Caps) -> int:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            await self._check_caps(request, caps)
            cursor = await db.execute(
                """
            INSERT INTO jobs (state, guild_id, channel_id, user_id, locale, style, framing,
                              trim_audio, upload_limit_bytes, image_source_url,
                              audio_source_url, created_at, updated_at, deliver_dm,
                              retry_of, requested_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
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
                ),
            )
            job_id = cursor.lastrowid
            assert job_id is not None
            await db.execute(
                "INSERT INTO job_events (job_id, from_state, to_state, attempt, at)"
                " VALUES (?, NULL, ?, 0, ?)",
                (job_id, JobState.RECEIVED.value, now),
            )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return job_id

    async def get(self, job_id: int) -> Job:
        cursor = await self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,))
        row = await cursor.fetchone()
        if row is None:
            raise KeyError(job_id)
        return _decode_row(row)

    async def in_states(self, states: Sequence[JobState]) -> list[Job]:
        """Jobs in any of ``states``, oldest first."""
        marks = ",".join("?" for _ in states)
        cursor = await self.db.execute(
            f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id",
            [state.value for state in states],
        )
        return [_decode_row(row) for row in await cursor.fetchall()]

    async def transition(
        self,
        job: Job,
        target: JobState,
        update: JobUpdate | None = None,
        *,
        guard: TransitionGuard | None = None,
    ) -> Job:
        """Move ``job`` to ``target`` if its row is still in ``job.state``; return the new row.

        ``guard`` runs inside the same write transaction, before the change: it may read other
        rows and raise to refuse the transition (nothing is written then).
        """
        check_transition(job.state, target)
        changes = update.model_dump(exclude_unset=True) if update else {}
        # model_dump turned boxes into dicts; encode from the model's own attributes instead.
        values = {name: _encode(name, getattr(update, name)) for name in changes}
        now = utcnow().isoformat()
        assignments = ", ".join(f"{name} = ?" for name in values)
        sql = f"UPDATE jobs SET state = ?, updated_at = ?{', ' if values else ''}{assignments}"
        sql += " WHERE id = ? AND state = ?"
        async with self._write_lock:
            await self._compare_and_set(job, target, sql, values, now, guard)
        moved = await self.get(job.id)
        log.info(
            "job %d %s -> %s guild=%s attempt=%d",
            job.id,
            job.state.value,
            target.value,
            job.guild_id,
            moved.attempt,
        )
        for observer in self._observers:
            try:
                observer(job, moved)
            except Exception:
                # An observer's bug must never undo or hide a written transition.
                log.exception("transition observer failed for job %d", job.id)
        return moved

    async def annotate(self, job: Job, update: JobUpdate) -> Job:
        """Change columns without changing the state (still a compare-and-set on the state)."""
        values = {name: _encode(name, getattr(update, name)) for name in update.model_fields_set}
        if not values:
            return job
        assignments = ", ".join(f"{name} = ?" for name in values)
        async with self._write_lock:
            cursor = await self.db.execute(
                f"UPDATE jobs SET updated_at = ?, {assignments} WHERE id = ? AND state = ?",
                [utcnow().isoformat(), *values.values(), job.id, job.state.value],
            )
            if cursor.rowcount != 1:
                raise StaleJobStateError(f"job {job.id} is no longer {job.state.value}")
        return await self.get(job.id)

    async def _compare_and_set(
        self,
        job: Job,
        target: JobState,
        sql: str,
        values: dict[str, object],
        now: str,
        guard: TransitionGuard | None,
    ) -> None:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            if guard is not None:
                await guard(db)
            cursor = await db.execute(
                sql, [target.value, now, *values.values(), job.id, job.state.value]
            )
            if cursor.rowcount != 1:
                raise StaleJobStateError(f"job {job.id} is no longer {job.state.value}")
            attempt = values.get("attempt", job.attempt)
            await db.execute(
                "INSERT INTO job_events (job_id, from_state, to_state, attempt, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (job.id, job.state.value, target.value, attempt, now),
            )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise

    async def usage(self, since: datetime) -> Usage:
        """Each server's demand (jobs it had submitted since ``since`` plus jobs it has
        waiting now) and its latest submission: the fair share's input."""
        cursor = await self.db.execute(
            "SELECT guild_id,"
            " COALESCE(SUM(submitted_at >= ?), 0) + SUM(state = ?), MAX(submitted_at)"
            " FROM jobs WHERE queued_at IS NOT NULL GROUP BY guild_id",
            (since.isoformat(), JobState.QUEUED.value),
        )
        recent: dict[int | None, int] = {}
        last: dict[int | None, datetime] = {}
        for guild_id, count, latest in await cursor.fetchall():
            recent[guild_id] = int(count or 0)
            if latest is not None:
                last[guild_id] = datetime.fromisoformat(latest)
        return Usage(recent=recent, last_served=last)

    async def queue_heads(self, now: datetime) -> list[Job]:
        """The oldest eligible queued job of each server (all the scheduler needs to see)."""
        cursor = await self.db.execute(
            "SELECT * FROM jobs WHERE id IN (SELECT MIN(id) FROM jobs WHERE state = ?"
            " AND (not_before IS NULL OR not_before <= ?) GROUP BY guild_id)",
            (JobState.QUEUED.value, now.isoformat()),
        )
        return [_decode_row(row) for row in await cursor.fetchall()]

    async def next_not_before(self) -> datetime | None:
        """When the earliest backed-off queued job becomes eligible."""
        cursor = await self.db.execute(
            "SELECT MIN(not_before) FROM jobs WHERE state = ? AND not_before IS NOT NULL",
            (JobState.QUEUED.value,),
        )
        row = await cursor.fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    async def render_history(self, limit: int = 50) -> list[tuple[float, float]]:
        """(audio seconds, render seconds) of the most recent renders, for the duration model."""
        cursor = await self.db.execute(
            "SELECT audio_seconds, render_seconds FROM jobs"
            " WHERE render_seconds IS NOT NULL AND audio_seconds IS NOT NULL"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [(float(a), float(r)) for a, r in await cursor.fetchall()]

    async def known_task_ids(self) -> set[str]:
        cursor = await self.db.execute("SELECT task_id FROM jobs WHERE task_id IS NOT NULL")
        return {str(row[0]) for row in await cursor.fetchall()}

    async def history(self, job_id: int) -> list[JobState]:
        """The states a job went through, in order."""
        cursor = await self.db.execute(
            "SELECT to_state FROM job_events WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [JobState(row[0]) for row in await cursor.fetchall()]

    async def job_for_message(self, message_id: int) -> Job | None:
        """The job whose card, result or failure notice is message ``message_id``."""
        cursor = await self.db.execute(
            "SELECT * FROM jobs WHERE card_message_id = ? OR message_id = ?"
            " OR notice_message_id = ? ORDER BY id DESC LIMIT 1",
            (message_id, message_id, message_id),
        )
        row = await cursor.fetchone()
        return None if row is None else _decode_row(row)

    async def recent_jobs(
        self, *, user_id: int | None, guild_id: int | None, limit: int = 10
    ) -> list[Job]:
        """The newest jobs of a member (``user_id``) or of a whole server, newest first."""
        sql, parameters = "SELECT * FROM jobs WHERE guild_id IS ?", [guild_id]
        if user_id is not None:
            sql += " AND user_id = ?"
            parameters.append(user_id)
        cursor = await self.db.execute(sql + " ORDER BY id DESC LIMIT ?", [*parameters, limit])
        return [_decode_row(row) for row in await cursor.fetchall()]

    async def cards_behind(self, since: datetime) -> list[Job]:
        """Jobs whose status card does not show their current state (an edit was lost)."""
        cursor = await self.db.execute(
            "SELECT * FROM jobs WHERE card_message_id IS NOT NULL"
            " AND (card_state IS NULL OR card_state != state) AND updated_at >= ? ORDER BY id",
            (since.isoformat(),),
        )
        return [_decode_row(row) for row in await cursor.fetchall()]

    async def set_card(self, job_id: int, *, message_id: int, shown: JobState) -> None:
        """Record the card's message and the state it shows (display only: no state check)."""
        async with self._write_lock:
            await self.db.execute(
                "UPDATE jobs SET card_message_id = ?, card_state = ? WHERE id = ?",
                (message_id, shown.value, job_id),
            )

    async def set_notice(self, job_id: int, message_id: int) -> None:
        async with self._write_lock:
            await self.db.execute(
                "UPDATE jobs SET notice_message_id = ? WHERE id = ?", (message_id, job_id)
            )

    async def get_meta(self, key: str) -> str | None:
        cursor = await self.db.execute("SELECT value FROM meta WHERE key = ?", (key,))
        row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def delete_meta(self, key: str) -> None:
        async with self._write_lock:
            await self.db.execute("DELETE FROM meta WHERE key = ?", (key,))

    async def set_meta(self, key: str, value: str) -> None:
        async with self._write_lock:
            await self.db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
