"""The migration runner: per-package versions, old databases converted, newer ones refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.cards.sql import SqlCardRepository
from bot.core import SCHEMAS
from bot.db.legacy import BASELINES, LEGACY_MIGRATIONS
from bot.db.meta import MetaStore
from bot.db.migrations import SchemaTooNewError, migrate
from bot.db.scripts import statements
from bot.db.sqlite import SqliteDatabase
from bot.guilds.sql import SqlGuildRepository
from bot.jobs.models import Job
from bot.jobs.sql import SqlJobRepository
from bot.jobs.states import JobState

NOW = "2025-06-15T12:00:00+00:00"


def _legacy_database(path: Path, version: int) -> None:
    """A file as a bot before per-package migrations left it, at ``version``."""
    with sqlite3.connect(path) as db:
        for script in LEGACY_MIGRATIONS[:version]:
            for statement in statements(script):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {version}")


def _legacy_job(db: sqlite3.Connection, state: str, **columns: object) -> None:
    values = {
        "state": state,
        "guild_id": 1,
        "channel_id": 2,
        "user_id": 3,
        "locale": "ja",
        "style": "calm",
        "framing": "1:1",
        "upload_limit_bytes": 100,
        "image_source_url": "https://cdn/a.png",
        "audio_source_url": "https://cdn/a.ogg",
        "created_at": NOW,
        "updated_at": NOW,
        **columns,
    }
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    db.execute(f"INSERT INTO jobs ({names}) VALUES ({marks})", list(values.values()))


async def test_a_database_from_before_per_package_migrations_keeps_every_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "emo-bot.sqlite3"
    _legacy_database(path, 5)
    with sqlite3.connect(path) as db:
        _legacy_job(db, "delivered", card_message_id=501, card_state="delivered", message_id=601)
        _legacy_job(db, "failed", card_message_id=0, notice_message_id=702, error_key="x")
        _legacy_job(db, "submitted", task_id="t-3", card_message_id=503, card_state="queued")
        _legacy_job(db, "queued", polls=4)
        db.execute("INSERT INTO meta (key, value) VALUES ('app_commands_hash', 'abc')")
        db.execute(
            "INSERT INTO guild_settings (guild_id, name, value, updated_by, updated_at)"
            " VALUES (1, 'queue_cap', '5', 9, ?)",
            (NOW,),
        )
    db = await SqliteDatabase.open(path)
    try:
        reached = await migrate(db, SCHEMAS)
        # Converted to the baselines of the components it had, then migrated on from there
        # (a component born later, like the leases, starts from its first migration).
        assert set(BASELINES) == {schema.component for schema in SCHEMAS} - {"leases"}
        assert reached == {schema.component: len(schema.scripts("sqlite")) for schema in SCHEMAS}
        jobs = SqlJobRepository(db)
        rows = [await jobs.get(job_id) for job_id in (1, 2, 3, 4)]
        assert [row.state for row in rows] == [
            JobState.DELIVERED,
            JobState.FAILED,
            JobState.SUBMITTED,
            JobState.QUEUED,
        ]
        assert rows[2].task_id == "t-3"
        assert rows[0].locale == "ja"
        columns = {row["name"] for row in await db.fetch_all("PRAGMA table_info(jobs)")}
        assert columns == set(Job.model_fields)  # the card columns and `polls` left
        cards = SqlCardRepository(db)
        first, second, third = [await cards.get(job_id) for job_id in (1, 2, 3)]
        assert first is not None
        assert (first.message_id, first.shown, first.result_id) == (501, JobState.DELIVERED, 601)
        assert second is not None
        assert (second.deleted, second.notice_id) == (True, 702)
        assert third is not None
        assert third.shown is JobState.QUEUED
        assert await cards.get(4) is None
        assert await cards.job_for_message(601) == 1
        assert await cards.job_for_message(702) == 2
        assert await MetaStore(db).get("app_commands_hash") == "abc"
        assert await SqlGuildRepository(db).overrides(1) == {"queue_cap": "5"}
        assert (await db.fetch_one("PRAGMA user_version") or {}).get("user_version") == 0
        # Once converted, opening it again changes nothing.
        assert await migrate(db, SCHEMAS) == reached
    finally:
        await db.close()


async def test_an_older_legacy_database_is_upgraded_then_converted(tmp_path: Path) -> None:
    path = tmp_path / "emo-bot.sqlite3"
    _legacy_database(path, 2)
    with sqlite3.connect(path) as db:
        _legacy_job(db, "queued", trim_audio=1)
    db = await SqliteDatabase.open(path)
    try:
        await migrate(db, SCHEMAS)
        job = await SqlJobRepository(db).get(1)
        assert (job.state, job.trim_audio, job.retry_of) == (JobState.QUEUED, True, None)
    finally:
        await db.close()


async def test_a_database_from_a_newer_bot_is_refused(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.sqlite3"
    with sqlite3.connect(legacy) as db:
        db.execute("PRAGMA user_version = 99")
    newer = tmp_path / "newer.sqlite3"
    db = await SqliteDatabase.open(newer)
    await migrate(db, SCHEMAS)
    await db.execute("UPDATE schema_versions SET version = 99 WHERE component = 'jobs'")
    await db.close()
    for path, component in ((legacy, "legacy"), (newer, "jobs")):
        db = await SqliteDatabase.open(path)
        try:
            with pytest.raises(SchemaTooNewError) as refused:
                await migrate(db, SCHEMAS)
            assert refused.value.component == component
        finally:
            await db.close()
