"""/readyz reads the database on every hit and writes only when a write check is due: over
real HTTP, on a real SQLite file, with another process holding its write lock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.core import SCHEMAS
from bot.db.meta import MetaStore
from bot.db.migrations import migrate
from bot.db.sqlite import SqliteDatabase
from bot.jobs.gate import ProviderGate
from bot.jobs.sql import SqlJobRepository
from bot.ops import Metrics, OpsServer
from bot.ops.server import PING_KEY
from tests.support.postgres import free_port

pytestmark = pytest.mark.timeout(60)
FILE = "emo-bot.sqlite3"


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    # A short wait for another process's lock: a write check meeting one fails quickly.
    db = await SqliteDatabase.open(tmp_path / FILE, busy_timeout=0.3)
    await migrate(db, SCHEMAS)
    yield db
    await db.close()


@pytest.fixture
async def readyz(database: SqliteDatabase) -> AsyncIterator[str]:
    meta = MetaStore(database)
    server = OpsServer(
        bind=f"127.0.0.1:{free_port()}",
        metrics=Metrics(),
        jobs=SqlJobRepository(database),
        meta=meta,
        gate=ProviderGate(meta),
        write_every=60.0,
        write_retry=1.0,
    )
    async with server.running():
        yield f"http://127.0.0.1:{server.port}/readyz"


async def _hit(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.json()


async def test_a_hit_reads_and_only_a_due_check_writes(
    database: SqliteDatabase, readyz: str, tmp_path: Path
) -> None:
    assert await _hit(readyz) == (200, {"gateway": True, "database": True, "provider": "ok"})
    written = await MetaStore(database).get(PING_KEY)
    assert written is not None  # the first hit checked a write
    for _ in range(10):
        assert (await _hit(readyz))[0] == 200
    assert await MetaStore(database).get(PING_KEY) == written  # no write per hit
    # Another process holding the write lock does not make a hit wait or fail: it only reads.
    other = sqlite3.connect(tmp_path / FILE, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        assert (await _hit(readyz))[0] == 200
        other.execute("COMMIT")
    finally:
        other.close()


async def test_a_failed_write_check_is_not_ready_until_one_succeeds(
    database: SqliteDatabase, readyz: str, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / FILE, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the first hit's write check cannot take the lock
        status, body = await _hit(readyz)
        assert (status, body["database"]) == (503, False)
        other.execute("COMMIT")
        # Until the retry is due, the failed check stands (and nothing is written).
        assert (await _hit(readyz))[0] == 503
        assert await MetaStore(database).get(PING_KEY) is None
        await asyncio.sleep(1.1)
        assert (await _hit(readyz))[0] == 200
        assert await MetaStore(database).get(PING_KEY) is not None
        other.execute("BEGIN IMMEDIATE")  # the bot left no transaction open behind it
        other.execute("COMMIT")
    finally:
        other.close()
