"""The PostgreSQL backend against a real server: concurrent start-ups, a lost connection."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from bot.core import SCHEMAS
from bot.db.database import DatabaseUnavailableError
from bot.db.migrations import migrate, versions
from bot.db.postgres import PostgresDatabase
from bot.jobs import schema as jobs_schema
from bot.jobs.sql import SqlJobRepository
from bot.jobs.states import JobState
from tests.support.postgres import PostgresServer, running_postgres


async def test_processes_starting_together_migrate_one_at_a_time(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database()
    pools = [await PostgresDatabase.open(url) for _ in range(4)]
    try:
        # Without the advisory lock, two of them create the same table and one fails.
        reached = await asyncio.gather(*(migrate(db, SCHEMAS) for db in pools))
        expected = {schema.component: len(schema.scripts("postgres")) for schema in SCHEMAS}
        assert all(result == expected for result in reached)
        assert await versions(pools[0]) == expected
    finally:
        for db in pools:
            await db.close()


async def test_a_restarted_server_costs_one_log_line_and_the_pool_reconnects(
    caplog: pytest.LogCaptureFixture, postgres_server: PostgresServer
) -> None:
    with running_postgres() as server:  # its own server: this test stops it
        db = await PostgresDatabase.open(server.create_database())
        try:
            await migrate(db, SCHEMAS)
            jobs = SqlJobRepository(db)
            caplog.set_level(logging.WARNING, logger="bot.db.postgres")
            await asyncio.to_thread(server.stop)
            for _ in range(2):
                with pytest.raises(DatabaseUnavailableError):
                    await jobs.in_states([JobState.QUEUED])
            assert not db.reachable
            await asyncio.to_thread(server.start)
            for _ in range(100):
                try:
                    assert await jobs.in_states([JobState.QUEUED]) == []
                    break
                except DatabaseUnavailableError:
                    await asyncio.sleep(0.1)
            assert db.reachable
        finally:
            await db.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.db.postgres"]
    assert len(lines) == 2, lines  # down once, up once: not a line per failed query
    assert lines[0].startswith("database unreachable")
    assert lines[1].startswith("database reachable again")
    assert not any(r.exc_info for r in caplog.records)


async def test_a_database_of_the_single_process_release_gains_the_cluster_columns(
    postgres_server: PostgresServer,
) -> None:
    """The first PostgreSQL release had jobs at version 1 (no leases, no slots): a job in
    flight there keeps its row and is claimable after the upgrade."""
    url = postgres_server.create_database()
    db = await PostgresDatabase.open(url)
    try:
        first = replace(
            jobs_schema.SCHEMA,
            migrations={"postgres": jobs_schema.SCHEMA.scripts("postgres")[:1]},
        )
        older = [first if s.component == "jobs" else s for s in SCHEMAS]
        assert (await migrate(db, older))["jobs"] == 1
        await db.execute(
            "INSERT INTO jobs (state, channel_id, user_id, locale, style, framing,"
            " upload_limit_bytes, image_source_url, audio_source_url, created_at, updated_at)"
            " VALUES ('queued', 2, 3, 'en', 'normal', '1:1', 100, 'a', 'b', now(), now())"
        )
        assert (await migrate(db, SCHEMAS))["jobs"] == len(jobs_schema.SCHEMA.scripts("postgres"))
        row = await db.fetch_one(
            "SELECT state, lease_owner, slot_held_until, account, inputs_account FROM jobs"
        )
        assert row is not None
        assert (row["state"], row["lease_owner"], row["slot_held_until"]) == ("queued", None, None)
        assert (row["account"], row["inputs_account"]) == (None, None)
        assert await db.fetch_all("SELECT * FROM provider_slots") == []
    finally:
        await db.close()


async def test_a_deadlock_is_a_conflict_to_retry_not_an_outage(
    caplog: pytest.LogCaptureFixture, postgres_server: PostgresServer
) -> None:
    """Two transactions lock two rows in opposite orders: the server ends one of them. That
    one is retried as after an outage, but the database is not reported unreachable."""
    db = await PostgresDatabase.open(postgres_server.create_database())
    try:
        await db.execute("CREATE TABLE pair (id INTEGER PRIMARY KEY, n INTEGER)")
        await db.execute("INSERT INTO pair VALUES (1, 0), (2, 0)")
        both_hold_one = asyncio.Barrier(2)

        async def lock_in_order(first: int, second: int) -> None:
            async with db.transaction() as tx:
                await tx.execute("UPDATE pair SET n = n + 1 WHERE id = ?", (first,))
                await both_hold_one.wait()
                await tx.execute("UPDATE pair SET n = n + 1 WHERE id = ?", (second,))

        caplog.set_level(logging.WARNING, logger="bot.db.postgres")
        outcomes = await asyncio.gather(
            lock_in_order(1, 2), lock_in_order(2, 1), return_exceptions=True
        )
        conflicts = [o for o in outcomes if isinstance(o, DatabaseUnavailableError)]
        assert len(conflicts) == 1, outcomes
        assert conflicts[0].kind == "conflict"
        assert outcomes.count(None) == 1
        assert db.reachable  # /readyz stays ready: the server answered throughout
        lines = [r.getMessage() for r in caplog.records if r.name == "bot.db.postgres"]
        assert lines == ["database conflict (DeadlockDetected), tried again"]
        assert not any("unreachable" in line for line in lines)
    finally:
        await db.close()


async def test_every_session_bounds_its_lock_waits(postgres_server: PostgresServer) -> None:
    """A named lock held by a frozen transaction holds the others up for LOCK_TIMEOUT at
    most; then theirs fails as a conflict (and is retried), never waits for ever."""
    db = await PostgresDatabase.open(postgres_server.create_database())
    try:
        row = await db.fetch_one("SHOW lock_timeout")
        assert row is not None
        assert row["lock_timeout"] == "15s"
        row = await db.fetch_one("SHOW idle_in_transaction_session_timeout")
        assert row is not None
        assert row["idle_in_transaction_session_timeout"] == "1min"
    finally:
        await db.close()
