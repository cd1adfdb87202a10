"""Job rows in chosen states and times, written through the real repositories (a row is
stamped with the time it was written at: tests place a job on a given day that way)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.db.database import Database
from bot.guilds.admission import GuildAdmission
from bot.guilds.sql import SqlGuildRepository
from bot.jobs.models import AnimateRequest, Box, Framing, InputRef, Job, JobChanges
from bot.jobs.repository import Caps
from bot.jobs.sql import SqlJobRepository
from bot.jobs.states import JobState
from bot.media.cache import MediaCache

NOON = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
BOX = Box(x1=1, y1=2, x2=3, y2=4)


@dataclass
class MovableClock:
    """A clock the test moves by hand."""

    now: datetime = NOON

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class Rows:
    """The test's database through the real repositories, on the test's clock."""

    db: Database
    jobs: SqlJobRepository
    guilds: SqlGuildRepository
    cache: MediaCache

    @classmethod
    def over(cls, db: Database, clock: MovableClock, media: Path) -> Rows:
        return cls(db, SqlJobRepository(db, clock=clock), SqlGuildRepository(db), MediaCache(media))

    def written_at(self, at: datetime) -> SqlJobRepository:
        """The jobs' repository with a clock stopped at ``at``."""
        return SqlJobRepository(self.db, clock=lambda: at)


async def preparing(
    rows: Rows,
    *,
    guild_id: int | None,
    user_id: int,
    at: datetime,
    framing: Framing = Framing.HEAD,
    channel_id: int = 500,
) -> Job:
    """A new job, as it is while its inputs are checked, created at ``at``."""
    request = AnimateRequest(
        guild_id=guild_id,
        channel_id=channel_id,
        user_id=user_id,
        image=InputRef(url="https://cdn.example/face.png", declared_size=1),
        audio=InputRef(url="https://cdn.example/voice.ogg", declared_size=1),
        framing=framing,
    )
    then = rows.written_at(at)
    job = await then.create(request, Caps())
    return await then.transition(job, JobState.PREPARING)


def prepared(seconds: float, estimate_usd: float | None = None) -> JobChanges:
    """What preparation hands to the queue."""
    return JobChanges(
        audio_seconds=seconds,
        image_url="oss://face",
        audio_url="oss://voice",
        face_box=BOX,
        ext_box=BOX,
        estimate_usd=estimate_usd,
    )


async def admit(rows: Rows, admission: GuildAdmission, job: Job, seconds: float) -> Job:
    """Queue a prepared job as intake does: the estimate and the guard from the admission,
    checked in the queueing transaction. Raises QuotaExceededError."""
    entry = await admission.entry(job, seconds)
    return await rows.jobs.transition(
        job, JobState.QUEUED, prepared(seconds, entry.estimate_usd), guard=entry.guard
    )


async def queued(
    rows: Rows,
    admission: GuildAdmission,
    *,
    guild_id: int,
    user_id: int,
    seconds: float,
    at: datetime,
    framing: Framing = Framing.HEAD,
) -> Job:
    job = await preparing(rows, guild_id=guild_id, user_id=user_id, at=at, framing=framing)
    return await admit(rows, admission, job, seconds)


async def rendered(rows: Rows, job: Job, *, task: str) -> Job:
    job = await rows.jobs.transition(job, JobState.SUBMITTING, JobChanges(attempt=1))
    return await rows.jobs.transition(job, JobState.SUBMITTED, JobChanges(task_id=task))


async def delivered(
    rows: Rows, job: Job, *, video_seconds: float, cost: float, at: datetime
) -> Job:
    """A queued job that the provider billed and that was posted at ``at``."""
    job = await rendered(rows, job, task=f"task-{job.id}")
    job = await rows.jobs.transition(
        job,
        JobState.SUCCEEDED,
        JobChanges(
            result_url="https://result.example/v.mp4",
            video_seconds=video_seconds,
            cost_usd=cost,
            finished_at=at,
        ),
    )
    job = await rows.jobs.transition(job, JobState.DELIVERING)
    return await rows.jobs.transition(
        job, JobState.DELIVERED, JobChanges(message_id=9000 + job.id, delivered_at=at)
    )
