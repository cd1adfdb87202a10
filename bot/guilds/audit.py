"""The job audit: who made which video, where, when, from which files, at what cost."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import UserFacingError
from bot.guilds.access import Viewer
from bot.jobs.models import Job
from bot.jobs.repository import JobRepository, JobSearch
from bot.jobs.states import JobState
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


def _entry(job: Job) -> AuditEntry:
    return AuditEntry(
        job_id=job.id,
        user_id=job.user_id,
        requested_by=job.requested_by,
        channel_id=job.channel_id,
        state=job.state,
        created_at=job.created_at,
        audio_seconds=job.audio_seconds,
        video_seconds=job.video_seconds,
        cost_usd=job.cost_usd,
        estimate_usd=job.estimate_usd,
        image_sha256=job.image_sha256,
        audio_sha256=job.audio_sha256,
        media_deleted=job.inputs_purged_at is not None,
    )


class JobAudit:
    """Lists a server's jobs for its managers, newest first."""

    def __init__(self, jobs: JobRepository) -> None:
        self._jobs = jobs

    async def page(self, viewer: Viewer, query: AuditQuery) -> AuditPage:
        viewer.require_manager()
        search = JobSearch(
            guild_id=viewer.guild_id,
            user_id=query.user_id,
            state=query.state,
            created_since=_midnight(query.since) if query.since else None,
            created_before=_midnight(query.until + timedelta(days=1)) if query.until else None,
            limit=PAGE_SIZE,
        )
        total, jobs = await self._jobs.search(replace(search, offset=(query.page - 1) * PAGE_SIZE))
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(query.page, pages)
        if page != query.page:  # past the last page: show the last one
            _, jobs = await self._jobs.search(replace(search, offset=(page - 1) * PAGE_SIZE))
        return AuditPage(entries=[_entry(job) for job in jobs], page=page, pages=pages, total=total)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
