from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core import SCHEMAS
from bot.db.migrations import migrate, versions
from bot.jobs.models import AnimateRequest, Box, Framing, InputRef, Job, JobChanges, Style
from bot.jobs.own_accounts import TaskHolder
from bot.jobs.repository import Caps, StaleJobStateError
from bot.jobs.sql import SqlJobRepository
from bot.jobs.states import IllegalTransitionError, JobState
from tests.support.backends import BOTH_BACKENDS, open_test_database

pytestmark = BOTH_BACKENDS


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
async def store(tmp_path: Path, database_url: str) -> AsyncIterator[SqlJobRepository]:
    db = await open_test_database(database_url, tmp_path)
    yield SqlJobRepository(db)
    await db.close()


async def test_a_new_job_has_a_row_with_its_request(store: SqlJobRepository) -> None:
    job = await store.create(_request(), Caps())
    again = await store.get(job.id)
    assert again == job
    assert job.state is JobState.RECEIVED
    assert (job.style, job.framing, job.locale) == (Style.CALM, Framing.HALF_BODY, "ja")
    assert await store.history(job.id) == [JobState.RECEIVED]


async def test_transitions_write_fields_and_history(store: SqlJobRepository) -> None:
    job = await store.create(_request(), Caps())
    job = await store.transition(job, JobState.PREPARING)
    job = await store.transition(
        job,
        JobState.QUEUED,
        JobChanges(face_box=Box(x1=1, y1=2, x2=3, y2=4), audio_seconds=9.5, image_url="oss://x"),
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


async def test_a_stale_snapshot_cannot_move_the_row(store: SqlJobRepository) -> None:
    job = await store.create(_request(), Caps())
    first = await store.transition(job, JobState.PREPARING)
    with pytest.raises(StaleJobStateError):
        await store.transition(job, JobState.PREPARING)  # still believes RECEIVED
    assert (await store.get(job.id)).state is first.state


async def test_illegal_transitions_are_refused_before_touching_the_row(
    store: SqlJobRepository,
) -> None:
    job = await store.create(_request(), Caps())
    with pytest.raises(IllegalTransitionError):
        await store.transition(job, JobState.DELIVERED)
    assert (await store.get(job.id)).state is JobState.RECEIVED


async def test_rows_survive_reopening_and_migrations_run_once(
    tmp_path: Path, database_url: str
) -> None:
    db = await open_test_database(database_url, tmp_path)
    job = await SqlJobRepository(db).create(_request(), Caps())
    await db.close()
    db = await open_test_database(database_url, tmp_path, migrated=False)
    try:
        again = await migrate(db, SCHEMAS)
        assert again == {schema.component: len(schema.scripts(db.dialect)) for schema in SCHEMAS}
        assert await versions(db) == again
        store = SqlJobRepository(db)
        assert (await store.get(job.id)).user_id == 7
        assert [j.id for j in await store.in_states([JobState.RECEIVED])] == [job.id]
    finally:
        await db.close()


async def test_the_jobs_table_has_exactly_the_models_columns(store: SqlJobRepository) -> None:
    """Each column is declared once, in the model: the table may not drift from it."""
    db = store._db
    if db.dialect == "sqlite":
        rows = await db.fetch_all("SELECT name FROM pragma_table_info('jobs')")
    else:
        rows = await db.fetch_all(
            "SELECT column_name AS name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'jobs'"
        )
    columns = {row["name"] for row in rows}
    assert columns == set(Job.model_fields)


async def test_only_the_fields_given_are_written(store: SqlJobRepository) -> None:
    job = await store.create(_request(), Caps())
    job = await store.transition(job, JobState.PREPARING, JobChanges(audio_seconds=3.0))
    job = await store.annotate(job, JobChanges(image_url="oss://a"))
    assert (job.audio_seconds, job.image_url) == (3.0, "oss://a")
    job = await store.annotate(job, JobChanges(audio_seconds=None))  # set to None: written
    assert (job.audio_seconds, job.image_url) == (None, "oss://a")


async def _submitted(
    store: SqlJobRepository, task_id: str, account: str, *, guild_id: int = 1, own: bool = False
) -> Job:
    request = _request().model_copy(update={"guild_id": guild_id})
    job = await store.create(request, Caps(), own_account=account if own else None)
    for state in (JobState.PREPARING, JobState.QUEUED, JobState.SUBMITTING):
        job = await store.transition(job, state, JobChanges(account=account))
    changes = JobChanges(task_id=task_id, submitted_at=job.updated_at)
    return await store.transition(job, JobState.SUBMITTED, changes)


async def test_each_task_is_known_with_its_account_and_whose_account_it_is(
    store: SqlJobRepository,
) -> None:
    first = await _submitted(store, "task-a", "acct-one")
    await _submitted(store, "task-b", "acct-two")
    await _submitted(store, "task-c", "own-5-acct-three", guild_id=5, own=True)
    since = first.updated_at.replace(microsecond=0) - timedelta(seconds=1)
    # An account's task list holds only its own tasks: settlement compares it with these.
    assert set(await store.tasks_since(since, account="acct-one")) == {"task-a"}
    assert set(await store.tasks_since(since, account="own-5-acct-three")) == {"task-c"}
    assert await store.tasks_since(since + timedelta(hours=1), account="acct-one") == {}
    # Whose account each ran on: the operator's (no own account) or a server's own.
    assert await store.task_holders(since) == {
        "task-a": TaskHolder(1, None),
        "task-b": TaskHolder(1, None),
        "task-c": TaskHolder(5, "own-5-acct-three"),
    }
