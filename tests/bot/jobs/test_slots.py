"""The provider's capacity as rows: a job is claimed with a free slot in one transaction.

Claimers here are separate connections (on PostgreSQL, separate pools: as separate processes
would be), racing on the same rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.db.database import Database
from bot.jobs.models import AnimateRequest, Box, InputRef, Job, JobChanges
from bot.jobs.repository import CapExceededError, Caps, ClaimView
from bot.jobs.sql import SqlJobRepository
from bot.jobs.states import JobState
from tests.support.backends import open_test_database

ACCOUNT = "default"
BOX = Box(x1=1, y1=2, x2=3, y2=4)
CLAIMERS = 16


@pytest.fixture
async def databases(tmp_path: Path, database_url: str) -> AsyncIterator[list[Database]]:
    """One migrated database, opened ``CLAIMERS`` times."""
    first = await open_test_database(database_url, tmp_path)
    others = [
        await open_test_database(database_url, tmp_path, migrated=False)
        for _ in range(CLAIMERS - 1)
    ]
    yield [first, *others]
    for db in [first, *others]:
        await db.close()


def _request(guild_id: int, user_id: int = 1) -> AnimateRequest:
    return AnimateRequest(
        guild_id=guild_id,
        channel_id=guild_id * 10,
        user_id=user_id,
        image=InputRef(url="https://cdn.example/face.png", declared_size=1),
        audio=InputRef(url="https://cdn.example/voice.ogg", declared_size=1),
    )


async def _queued(jobs: SqlJobRepository, guild_id: int) -> Job:
    job = await jobs.create(_request(guild_id), Caps())
    job = await jobs.transition(job, JobState.PREPARING)
    ready = JobChanges(
        audio_seconds=4.0,
        image_url="oss://face",
        audio_url="oss://voice",
        face_box=BOX,
        ext_box=BOX,
        queued_at=datetime.now(UTC),
    )
    return await jobs.transition(job, JobState.QUEUED, ready)


async def _oldest_head(view: ClaimView) -> Job | None:
    heads = await view.queue_heads(datetime.now(UTC))
    return min(heads, key=lambda job: job.id) if heads else None


async def test_sixteen_claimers_and_one_slot_submit_exactly_one(
    databases: list[Database],
) -> None:
    """The known failure of a count check (each claimer counts 0 in flight, all 16 submit)
    cannot happen: the slot is a row, taken once."""
    repos = [SqlJobRepository(db) for db in databases]
    for guild in range(CLAIMERS):
        await _queued(repos[0], guild + 1)
    await repos[0].ensure_slots(ACCOUNT, 1)
    start = asyncio.Event()

    async def claimer(jobs: SqlJobRepository, guild_id: int) -> Job | None:
        async def own_servers_job(view: ClaimView) -> Job | None:
            heads = await view.queue_heads(datetime.now(UTC))
            return next((job for job in heads if job.guild_id == guild_id), None)

        await start.wait()
        # Each claimer wants another job: only the slot can stop all sixteen.
        claimed = await jobs.claim(ACCOUNT, 1, own_servers_job, JobChanges())
        return None if claimed is None else claimed.after

    racing = [asyncio.ensure_future(claimer(jobs, guild + 1)) for guild, jobs in enumerate(repos)]
    await asyncio.sleep(0.1)
    start.set()
    won = [job for job in await asyncio.gather(*racing) if job is not None]
    assert len(won) == 1
    assert won[0].state is JobState.SUBMITTING
    assert won[0].attempt == 1
    assert len(await repos[0].in_states([JobState.SUBMITTING])) == 1
    assert await repos[0].slot_holders(ACCOUNT) == {0: won[0].id}


async def test_three_slots_hold_three_tasks_whoever_claims(databases: list[Database]) -> None:
    repos = [SqlJobRepository(db) for db in databases]
    for guild in range(10):
        await _queued(repos[0], guild + 1)
    await repos[0].ensure_slots(ACCOUNT, 3)
    rounds = await asyncio.gather(
        *(jobs.claim(ACCOUNT, 3, _oldest_head, JobChanges()) for jobs in repos)
    )
    claimed = [c.after.id for c in rounds if c is not None]
    assert len(claimed) == len(set(claimed)) == 3
    assert sorted(j for j in (await repos[0].slot_holders(ACCOUNT)).values() if j) == sorted(
        claimed
    )


async def test_a_slot_is_free_only_once_no_task_of_its_job_can_be_at_the_provider(
    databases: list[Database],
) -> None:
    jobs = SqlJobRepository(databases[0])
    await jobs.ensure_slots(ACCOUNT, 1)
    first = await _queued(jobs, 1)
    await _queued(jobs, 2)
    claimed = await jobs.claim(ACCOUNT, 1, _oldest_head, JobChanges())
    assert claimed is not None
    assert claimed.after.id == first.id
    job = await jobs.transition(claimed.after, JobState.SUBMITTED, JobChanges(task_id="t-1"))
    # Rendering (and a process that dies now changes nothing on the row): still taken.
    assert await jobs.claim(ACCOUNT, 1, _oldest_head, JobChanges()) is None
    job = await jobs.transition(job, JobState.SUCCEEDED, JobChanges(result_url="https://r"))
    # Terminal at the provider: free.
    second = await jobs.claim(ACCOUNT, 1, _oldest_head, JobChanges())
    assert second is not None
    # The submit's answer was lost: the task may exist. The slot stays taken for the hold.
    hold = datetime.now(UTC) + timedelta(seconds=0.6)
    await jobs.transition(
        second.after, JobState.FAILED, JobChanges(slot_held_until=hold, error_key="x")
    )
    await _queued(jobs, 3)
    assert await jobs.claim(ACCOUNT, 1, _oldest_head, JobChanges()) is None
    await asyncio.sleep(0.7)
    assert await jobs.claim(ACCOUNT, 1, _oldest_head, JobChanges()) is not None


async def test_tasks_in_flight_from_before_slots_each_get_one(
    databases: list[Database],
) -> None:
    """An older database (or a copy) has tasks in flight and no slots: none is forgotten,
    so the provider never holds more than the slots say."""
    jobs = SqlJobRepository(databases[0])
    in_flight = []
    for guild in (1, 2, 3):
        job = await _queued(jobs, guild)
        job = await jobs.transition(job, JobState.SUBMITTING, JobChanges(attempt=1))
        in_flight.append(
            await jobs.transition(job, JobState.SUBMITTED, JobChanges(task_id=f"t-{guild}"))
        )
    await _queued(jobs, 4)
    await jobs.ensure_slots(ACCOUNT, 2)
    holders = await jobs.slot_holders(ACCOUNT)
    assert sorted(j for j in holders.values() if j) == [job.id for job in in_flight]
    assert len(holders) == 3  # one past the capacity, until its task ends
    assert await jobs.claim(ACCOUNT, 2, _oldest_head, JobChanges()) is None
    for job in in_flight[:2]:
        await jobs.transition(job, JobState.SUCCEEDED, JobChanges(result_url="https://r"))
    # Two ended, one is still in flight (in the slot past the capacity): one more may go.
    assert await jobs.claim(ACCOUNT, 2, _oldest_head, JobChanges()) is not None
    assert await jobs.claim(ACCOUNT, 2, _oldest_head, JobChanges()) is None


async def test_caps_hold_when_processes_admit_at_once(databases: list[Database]) -> None:
    """Sixteen requests of one member at the same moment, one per process, a cap of two:
    the count and the insert are one transaction under one lock, so two get through."""
    repos = [SqlJobRepository(db) for db in databases]
    caps = Caps(active_per_member=2)

    async def ask(jobs: SqlJobRepository) -> bool:
        try:
            await jobs.create(_request(1, user_id=77), caps)
        except CapExceededError:
            return False
        return True

    admitted = await asyncio.gather(*(ask(jobs) for jobs in repos))
    assert sum(admitted) == 2
