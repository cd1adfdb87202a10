"""The SQLite backend's transactions under cancellation, and the files it creates."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import stat
from pathlib import Path

from bot.core import SCHEMAS
from bot.db import lock
from bot.db.backup import backup
from bot.db.migrations import migrate
from bot.db.sqlite import SqliteDatabase


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_transaction_cancelled_while_waiting_for_the_lock_leaves_none_open(
    tmp_path: Path,
) -> None:
    """Another process holds the write lock; a transaction waiting for it is cancelled (a
    /readyz time-out, a stop). Its BEGIN still runs on the connection's thread and takes the
    lock once it is free: it must be undone, or every later write fails ("cannot start a
    transaction within a transaction") and the file stays locked for every other process."""
    path = tmp_path / "emo-bot.sqlite3"
    db = await SqliteDatabase.open(path, busy_timeout=3.0)
    try:
        await db.execute("CREATE TABLE t (x INTEGER)")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")

        async def write(value: int) -> None:
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (?)", (value,))

        waiting = asyncio.create_task(write(1))
        await asyncio.sleep(0.3)  # BEGIN IMMEDIATE is waiting for the other's lock
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        other.execute("COMMIT")  # now the abandoned BEGIN gets the lock

        await asyncio.wait_for(write(2), 10)  # the next transaction begins normally
        assert [row["x"] for row in await db.fetch_all("SELECT x FROM t")] == [2]
        other.execute("BEGIN IMMEDIATE")  # and nothing holds the file's lock
        other.execute("COMMIT")
        other.close()
    finally:
        await db.close()


async def test_the_database_and_its_journals_are_private(tmp_path: Path) -> None:
    """0600 files and 0700 folders whatever the process's umask (pytest's is 022)."""
    data_dir = tmp_path / "data"
    live = data_dir / "emo-bot.sqlite3"
    async with lock.holding(data_dir):
        db = await SqliteDatabase.open(live)
        try:
            await migrate(db, SCHEMAS)
            journals = [live.with_name(f"{live.name}-{suffix}") for suffix in ("wal", "shm")]
            assert all(journal.exists() for journal in journals)
            await asyncio.to_thread(backup, live, tmp_path / "copy.sqlite3", busy_timeout=5.0)
            files = [live, *journals, lock.lock_path(data_dir), tmp_path / "copy.sqlite3"]
            assert {str(f): oct(_mode(f)) for f in files} == {str(f): "0o600" for f in files}
            assert oct(_mode(data_dir)) == "0o700"
        finally:
            await db.close()
