"""The job audit: who made which video, where, when, from which files, at what cost."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import UserFacingError
from bot.guilds.access import Viewer
from bot.jobs.states import JobState
from bot.jobs.store import JobStore
from bot.messages import MessageKey

PAGE_SIZE = 10


class AuditQuery(BaseModel):
    """Which jobs to list: all filters optional, dates are whole UTC days (inclusive)."""

    model_config = ConfigDict(frozen=True)

    user_id: int | None = None
    state: JobState | None = None
    since: date | None = None
    until: date | None = None
    page: int = Field(default=1, ge=1)


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserFacingError(MessageKey.AUDIT_BAD_DATE, value=text) from None


def parse_query(
    *,
    user_id: int | None = None,
    state: str | None = None,
    since: str | None = None,
    until: str | None = None,
    page: int = 1,
) -> AuditQuery:
    """The filters as typed in Discord; raises UserFacingError on a bad date or state."""
    try:
        chosen = JobState(state) if state else None
    except ValueError:
        raise UserFacingError(MessageKey.AUDIT_BAD_STATE, value=str(state)) from None
    first, last = _day(since), _day(until)
    if first and last and first > last:
        raise UserFacingError(
            MessageKey.AUDIT_BAD_RANGE, since=first.isoformat(), until=last.isoformat()
        )
    return AuditQuery(user_id=user_id, state=chosen, since=first, until=last, page=max(1, page))


class AuditEntry(BaseModel):
    """One job as the audit shows it."""

    model_config = ConfigDict(frozen=True)

    job_id: int
    user_id: int
    requested_by: int | None  # who asked, when not the owner (an admin's retry)
    channel_id: int
    state: JobState
    created_at: datetime
    audio_seconds: float | None
    video_seconds: float | None
    cost_usd: float | None  # what the provider billed
    estimate_usd: float | None
    image_sha256: str | None
    audio_sha256: str | None
    media_deleted: bool  # the inputs were deleted (retention, /emo forget, bot removed)


class AuditPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: list[AuditEntry]
    page: int
    pages: int
    total: int


_COLUMNS = (
    "id, user_id, requested_by, channel_id, state, created_at, audio_seconds, video_seconds,"
    " cost_usd, estimate_usd, image_sha256, audio_sha256, inputs_purged_at"
)


class JobAudit:
    """Lists a server's jobs for its managers, newest first."""

    def __init__(self, store: JobStore) -> None:
        self._store = store

    async def page(self, viewer: Viewer, query: AuditQuery) -> AuditPage:
        viewer.require_manager()
        where: list[str] = ["guild_id = ?"]
        parameters: list[object] = [viewer.guild_id]
        if query.user_id is not None:
            where.append("user_id = ?")
            parameters.append(query.user_id)
        if query.state is not None:
            where.append("state = ?")
            parameters.append(query.state.value)
        if query.since is not None:
            where.append("created_at >= ?")
            parameters.append(_midnight(query.since).isoformat())
        if query.until is not None:
            where.append("created_at < ?")
            parameters.append(_midnight(query.until + timedelta(days=1)).isoformat())
        condition = " AND ".join(where)
        db = self._store.db
        row = await (
            await db.execute(f"SELECT COUNT(*) FROM jobs WHERE {condition}", parameters)
        ).fetchone()
        total = int(row[0]) if row else 0
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(query.page, pages)
        cursor = await db.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE {condition} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*parameters, PAGE_SIZE, (page - 1) * PAGE_SIZE],
        )
        entries = [
            AuditEntry(
                job_id=r[0],
                user_id=r[1],
                requested_by=r[2],
                channel_id=r[3],
                state=JobState(r[4]),
                created_at=datetime.fromisoformat(r[5]),
                audio_seconds=r[6],
                video_seconds=r[7],
                cost_usd=r[8],
                estimate_usd=r[9],
                image_sha256=r[10],
                audio_sha256=r[11],
                media_deleted=r[12] is not None,
            )
            for r in await cursor.fetchall()
        ]
        return AuditPage(entries=entries, page=page, pages=pages, total=total)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
