"""The embedded backend: one SQLite file through aiosqlite, for a bot in one process.

Two connections: one writes, in transactions that take the file's write lock at once
(``BEGIN IMMEDIATE``) so a transaction's reads and the writes that depend on them cannot
interleave with another process's; one reads, and sees only committed data (WAL mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from bot.db.database import Connection, Row
from bot.db.failures import check_storage, diagnose
from bot.db.files import private_file

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


async def _roll_back(db: aiosqlite.Connection, error: BaseException) -> None:
    """End the transaction ``error`` interrupted, so the next one can begin; ``error``
    stays the one raised.

    After an error from SQLite, roll back only a transaction still open: a full disk or a
    failed COMMIT may have ended it, and a ROLLBACK would then fail with "cannot rollback",
    hiding the real error. After a cancellation, the statement awaited (BEGIN waiting for
    another process's lock, or any other) may still be running on the connection's thread,
    and whether it leaves a transaction open is not known yet: ROLLBACK is queued behind
    it all the same (the thread runs them in order, so it runs even if this wait is
    cancelled too), and "no transaction is active" is then no error.
    """
    cancelled = isinstance(error, asyncio.CancelledError)
    if not cancelled and not db.in_transaction:
        return
    try:
        await db.execute("ROLLBACK")
    except sqlite3.Error as failure:
        if db.in_transaction:
            log.warning("database: rollback after %r failed: %s", error, failure)


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
        """Open (or create, 0600) the file. A read-only, full or forbidden disk, or a damaged
        file, is a StorageError that says so (before any thread is left running)."""
        try:
            private_file(path)
            check_storage(path)
            writer = await _connect(path, busy_timeout)
            try:
                reader = await _connect(path, busy_timeout)
            except BaseException:
                await writer.close()
                raise
        except (sqlite3.Error, OSError) as error:
            found = diagnose(path, error)
            if found is None:
                raise
            raise found from error
        return cls(writer, reader)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._write_lock:
            if self._closed:
                raise RuntimeError("the database is closed")
            db = self._writer
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield _SqliteConnection(db)
                await db.execute("COMMIT")
            except BaseException as error:
                await _roll_back(db, error)
                raise

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
            try:
                await self._writer.close()
            finally:
                # Whatever happened to the writer: a connection left open keeps its thread,
                # and the process could never exit.
                await self._reader.close()
