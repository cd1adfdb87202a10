"""The PostgreSQL backend against a real server: concurrent start-ups, a lost connection."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.core import SCHEMAS
from bot.db.database import DatabaseUnavailableError
from bot.db.migrations import migrate, versions
from bot.db.postgres import PostgresDatabase
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
