from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.jobs.models import AnimateRequest, Box, Framing, InputRef, Style
from bot.jobs.states import IllegalTransitionError, JobState
from bot.jobs.store import MIGRATIONS, JobStore, JobUpdate, StaleJobStateError


def _request(user_id: int = 7) -> AnimateRequest:
    return AnimateRequest(
        guild_id=1,
        channel_id=2,
        user_id=user_id,
        locale="ja",
        image=InputRef(url="http://127.0.0.1/a.png", declared_size=10),
        audio=InputRef(url="http://127.0.0.1/a.ogg", declared_size=10),
        style=Style.CALM,
        framing=Framing.HALF_BODY,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JobStore]:
    store = JobStore(tmp_path / "db.sqlite3")
    await store.open()
    yield store
    await store.close()


async def test_a_new_job_has_a_row_with_its_request(store: JobStore) -> None:
    job = await store.create(_request())
    again = await store.get(job.id)
    assert again == job
    assert job.state is JobState.RECEIVED
    assert (job.style, job.framing, job.locale) == (Style.CALM, Framing.HALF_BODY, "ja")
    assert await store.history(job.id) == [JobState.RECEIVED]


async def test_transitions_write_fields_and_history(store: JobStore) -> None:
    job = await store.create(_request())
    job = await store.transition(job, JobState.PREPARING)
    job = await store.transition(
        job,
        JobState.QUEUED,
        JobUpdate(face_box=Box(x1=1, y1=2, x2=3, y2=4), audio_seconds=9.5, image_url="oss://x"),
    )
    reread = await store.get(job.id)
    assert reread.face_box == Box(x1=1, y1=2, x2=3, y2=4)
    assert reread.audio_seconds == 9.5
    assert reread.ext_box is None
    assert await store.history(job.id) == [
        JobState.RECEIVED,
        JobState.PREPARING,
        JobState.QUEUED,
    ]


async def test_a_stale_snapshot_cannot_move_the_row(store: JobStore) -> None:
    job = await store.create(_request())
    first = await store.transition(job, JobState.PREPARING)
    with pytest.raises(StaleJobStateError):
        await store.transition(job, JobState.PREPARING)  # still believes RECEIVED
    assert (await store.get(job.id)).state is first.state


async def test_illegal_transitions_are_refused_before_touching_the_row(store: JobStore) -> None:
    job = await store.create(_request())
    with pytest.raises(IllegalTransitionError):
        await store.transition(job, JobState.DELIVERED)
    assert (await store.get(job.id)).state is JobState.RECEIVED


async def test_rows_survive_reopening_and_migrations_run_once(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = JobStore(path)
    await store.open()
    job = await store.create(_request())
    await store.close()
    store = JobStore(path)
    await store.open()
    try:
        assert await store.schema_version() == len(MIGRATIONS)
        assert (await store.get(job.id)).user_id == 7
        assert [j.id for j in await store.in_states([JobState.RECEIVED])] == [job.id]
    finally:
        await store.close()
