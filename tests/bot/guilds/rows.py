"""Job rows in chosen states and times, written through the real store (no shortcuts but
the row's ``created_at``, which tests set to place a job on a given day)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.guilds.admission import Admission
from bot.jobs.models import AnimateRequest, Box, Framing, InputRef, Job
from bot.jobs.states import JobState
from bot.jobs.store import JobStore, JobUpdate

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


async def preparing(
    store: JobStore,
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
    job = await store.create(request)
    async with store.transaction() as db:
        await db.execute("UPDATE jobs SET created_at = ? WHERE id = ?", (at.isoformat(), job.id))
    return await store.transition(await store.get(job.id), JobState.PREPARING)


def prepared(seconds: float) -> JobUpdate:
    """What preparation hands to the queue."""
    return JobUpdate(
        audio_seconds=seconds,
        image_url="oss://face",
        audio_url="oss://voice",
        face_box=BOX,
        ext_box=BOX,
    )


async def queued(
    store: JobStore,
    admission: Admission,
    *,
    guild_id: int,
    user_id: int,
    seconds: float,
    at: datetime,
    framing: Framing = Framing.HEAD,
) -> Job:
    job = await preparing(store, guild_id=guild_id, user_id=user_id, at=at, framing=framing)
    return await admission.queue(job, prepared(seconds))


async def rendered(store: JobStore, job: Job, *, task: str) -> Job:
    job = await store.transition(job, JobState.SUBMITTING, JobUpdate(attempt=1))
    return await store.transition(job, JobState.SUBMITTED, JobUpdate(task_id=task))


async def delivered(
    store: JobStore, job: Job, *, video_seconds: float, cost: float, at: datetime
) -> Job:
    """A queued job that the provider billed and that was posted at ``at``."""
    job = await rendered(store, job, task=f"task-{job.id}")
    job = await store.transition(
        job,
        JobState.SUCCEEDED,
        JobUpdate(
            result_url="https://result.example/v.mp4",
            video_seconds=video_seconds,
            cost_usd=cost,
            finished_at=at,
        ),
    )
    job = await store.transition(job, JobState.DELIVERING)
    return await store.transition(
        job, JobState.DELIVERED, JobUpdate(message_id=9000 + job.id, delivered_at=at)
    )
