"""What the account report reads from the rows, on both backends: each account's spend this
month (``spend_by_account``) and its slots taken (``busy_slots``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import month_start, next_month
from bot.db.database import Database
from bot.jobs.models import AnimateRequest, Box, Framing, InputRef, Job, JobChanges, Style
from bot.jobs.repository import Caps, ClaimView
from bot.jobs.sql import SqlJobRepository
from bot.jobs.states import JobState
from tests.support.backends import BOTH_BACKENDS, open_test_database

pytestmark = BOTH_BACKENDS

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)


def _request() -> AnimateRequest:
    return AnimateRequest(
        guild_id=1,
        channel_id=2,
        user_id=3,
        locale="en",
        image=InputRef(url="http://127.0.0.1/a.png", declared_size=10),
        audio=InputRef(url="http://127.0.0.1/a.ogg", declared_size=10),
        style=Style.NORMAL,
        framing=Framing.HEAD,
    )


@pytest.fixture
async def db(tmp_path: Path, database_url: str) -> AsyncIterator[Database]:
    database = await open_test_database(database_url, tmp_path)
    yield database
    await database.close()


async def _billed(db: Database, created: datetime, account: str | None, cost: float | None) -> None:
    store = SqlJobRepository(db, clock=lambda: created)
    job = await store.create(_request(), Caps())
    await store.annotate(job, JobChanges(account=account, cost_usd=cost))


async def test_spend_is_summed_per_account_over_the_utc_month_of_creation(db: Database) -> None:
    await _billed(db, datetime(2025, 3, 1, 0, 0, tzinfo=UTC), "acct-a", 0.25)  # first instant
    await _billed(db, datetime(2025, 3, 31, 23, 59, tzinfo=UTC), "acct-a", 0.5)
    await _billed(db, NOW, "acct-b", 1.125)
    await _billed(db, NOW, "acct-b", None)  # not billed (failed, canceled): counts nothing
    await _billed(db, NOW, None, 9.0)  # no account took it: nobody's spend
    await _billed(db, datetime(2025, 2, 28, 23, 59, tzinfo=UTC), "acct-a", 7.0)  # last month
    await _billed(db, datetime(2025, 4, 1, 0, 0, tzinfo=UTC), "acct-b", 7.0)  # next month

    store = SqlJobRepository(db)
    spent = await store.spend_by_account(since=month_start(NOW), until=next_month(NOW))
    assert spent == {"acct-a": pytest.approx(0.75), "acct-b": pytest.approx(1.125)}
    february = datetime(2025, 2, 1, tzinfo=UTC)
    assert await store.spend_by_account(since=february, until=month_start(NOW)) == {"acct-a": 7.0}
    assert await store.spend_by_account(since=NOW, until=NOW) == {}


BOX = Box(x1=1, y1=2, x2=3, y2=4)


async def _queued(store: SqlJobRepository) -> Job:
    job = await store.create(_request(), Caps())
    job = await store.transition(job, JobState.PREPARING)
    ready = JobChanges(
        audio_seconds=4.0, image_url="oss://i", audio_url="oss://a", face_box=BOX, ext_box=BOX
    )
    return await store.transition(job, JobState.QUEUED, ready)


async def _oldest(view: ClaimView) -> Job | None:
    heads = await view.queue_heads(datetime.now(UTC))
    return min(heads, key=lambda job: job.id) if heads else None


async def _claim(store: SqlJobRepository, account: str, capacity: int) -> Job:
    await _queued(store)
    claimed = await store.claim(account, capacity, _oldest, JobChanges())
    assert claimed is not None
    return claimed.after


async def test_busy_slots_count_each_accounts_taken_slots(db: Database) -> None:
    store = SqlJobRepository(db)
    await store.ensure_slots("acct-a", 2)
    await store.ensure_slots("acct-b", 2)
    assert await store.busy_slots() == {}
    first = await _claim(store, "acct-a", 2)
    await _claim(store, "acct-a", 2)
    held = await _claim(store, "acct-b", 2)
    await _queued(store)  # queued, not in a slot
    assert await store.busy_slots() == {"acct-a": 2, "acct-b": 1}

    # A slot frees itself when its job ends, unless the job's end is uncertain (held).
    await store.transition(first, JobState.FAILED, JobChanges(finished_at=datetime.now(UTC)))
    hold = JobChanges(slot_held_until=datetime.now(UTC) + timedelta(hours=1))
    await store.transition(held, JobState.FAILED, hold)
    assert await store.busy_slots() == {"acct-a": 1, "acct-b": 1}
    for account in ("acct-a", "acct-b"):  # the same as each account's own view
        holders = await store.slot_holders(account)
        assert sum(job is not None for job in holders.values()) == 1
