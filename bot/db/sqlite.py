"""The embedded backend: one SQLite file through aiosqlite, for a bot in one process.

Two connections: one writes, in transactions that take the file's write lock at once
(``BEGIN IMMEDIATE``) so a transaction's reads and the writes that depend on them cannot
interleave with another process's; one reads, and sees only committed data (WAL mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from bot.db.database import Connection, Row

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT = 10.0  # seconds another process may hold the write lock before we fail


def _adapt(value: object) -> object:
    """SQLite has no time type: moments are stored as ISO 8601 text in UTC, which sorts."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def _params(params: Sequence[object]) -> list[object]:
    return [_adapt(value) for value in params]


class _SqliteConnection:
    """The Connection protocol over one aiosqlite connection."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    # A query runs and is read to its end in one call on the connection's thread: a cursor
    # left open between awaits would keep its read snapshot (WAL), and every query of other
    # coroutines in the meantime would miss newer commits.

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        async with self._db.execute(sql, _params(params)) as cursor:
            return cursor.rowcount

    async def insert(self, sql: str, params: Sequence[object] = ()) -> int:
        async with self._db.execute(sql, _params(params)) as cursor:
            if cursor.lastrowid is None:
                raise RuntimeError("the insert created no row")
            return cursor.lastrowid

    async def fetch_all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return [dict(row) for row in await self._db.execute_fetchall(sql, _params(params))]

    async def fetch_one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        rows = await self._db.execute_fetchall(sql, _params(params))
        first = next(iter(rows), None)
        return None if first is None else dict(first)

    async def lock(self, name: str) -> None:
        """Nothing to do: a write transaction holds the whole file's lock already."""


async def _connect(path: Path, busy_timeout: float) -> aiosqlite.Connection:
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        db.row_factory = aiosqlite.Row
        pragmas = (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            # Several bot processes may share one file: wait for a lock instead of failing.
            f"PRAGMA busy_timeout={int(busy_timeout * 1000)}",
            "PRAGMA foreign_keys=ON",
        )
        for pragma in pragmas:
            async with db.execute(pragma):
                pass  # closed at once: an open cursor would pin an old snapshot
    except BaseException:
        await db.close()
        raise
    return db


class SqliteDatabase(_SqliteConnection):
    """The Database protocol on one SQLite file."""

    dialect = "sqlite"

    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        super().__init__(reader)
        self._writer = writer
        self._reader = reader
        # One connection is shared by many coroutines: transactions must not interleave.
        self._write_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(
        cls, path: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> SqliteDatabase:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await _connect(path, busy_timeout)
        try:
            reader = await _connect(path, busy_timeout)
        except BaseException:
            await writer.close()
            raise
        return cls(writer, reader)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._write_lock:
            if self._closed:
                raise RuntimeError("the database is closed")
            db = self._writer
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteConnection(db)
            except BaseException:
                # Only an open transaction can be rolled back: a failed COMMIT or a full
                # disk may already have ended it, and ROLLBACK would then hide the error.
                if db.in_transaction:
                    await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """A single write statement, as its own transaction."""
        async with self.transaction() as tx:
            return await tx.execute(sql, params)

    async def insert(self, sql: str, params: Sequence[object] = ()) -> int:
        async with self.transaction() as tx:
            return await tx.insert(sql, params)

    async def close(self) -> None:
        # Taking the lock lets a transaction under way (a shielded write) commit first.
        async with self._write_lock:
            if self._closed:
                return
            self._closed = True
            await self._writer.close()
        await self._reader.close()
