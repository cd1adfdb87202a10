"""The shared backend: PostgreSQL through psycopg 3 (async) and a psycopg-pool, for several
bot processes on one database.

Repositories' ``?`` placeholders become psycopg's ``%s``; rows come back as dicts. A lost
connection (the server restarted, the network dropped) is a DatabaseUnavailableError: the
pool reconnects by itself, and the callers retry with bounded backoff.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.db.database import Connection, DatabaseUnavailableError, Row

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0  # seconds to get a connection before the database counts as down
# Every session's bounds: a statement waits at most LOCK_TIMEOUT for a lock (a named lock
# included) and then fails as a conflict, which is retried; a transaction left idle by a
# frozen process is ended by the server, so its locks cannot hold every process up.
LOCK_TIMEOUT_MS = 15_000
IDLE_IN_TRANSACTION_MS = 60_000
SESSION_OPTIONS = (
    f"-c lock_timeout={LOCK_TIMEOUT_MS}"
    f" -c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
)
# The server gave up one transaction to let another go on (a deadlock, a serialisation
# failure, a lock wait past LOCK_TIMEOUT): the server is fine, and the work is tried again.
_CONFLICTS = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.TransactionRollback,
    psycopg.errors.LockNotAvailable,
)


def to_psycopg(sql: str) -> str:
    """Our SQL in psycopg's placeholder style (no literal ``%`` or ``?`` in our SQL)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _first_line(error: Exception) -> str:
    """psycopg's messages go on with hints on further lines: the first says what failed."""
    return (str(error).splitlines() or [""])[0].strip()


class _Health:
    """Logs an outage once when it starts and once when it ends, not at every failure."""

    def __init__(self) -> None:
        self._down_since: float | None = None

    @property
    def up(self) -> bool:
        return self._down_since is None

    @contextlib.contextmanager
    def watch(self) -> Iterator[None]:
        try:
            yield
        except _CONFLICTS as error:
            # Not an outage: one line, and the caller's loop tries again as after one.
            log.warning("database conflict (%s), tried again", type(error).__name__)
            raise DatabaseUnavailableError("conflict", type(error).__name__) from None
        except (psycopg.OperationalError, PoolTimeout) as error:
            detail = _first_line(error)
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning(
                    "database unreachable (%s: %s); retrying, nothing is lost meanwhile",
                    type(error).__name__,
                    detail,
                )
            raise DatabaseUnavailableError(type(error).__name__, detail) from None
        if self._down_since is not None:
            log.warning(
                "database reachable again after %.0f s", time.monotonic() - self._down_since
            )
            self._down_since = None


class _PostgresConnection:
    """The Connection protocol over one psycopg connection."""

    def __init__(self, connection: psycopg.AsyncConnection[Any], health: _Health) -> None:
        self._connection = connection
        self._health = health

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        with self._health.watch():
            cursor = await self._connection.execute(to_psycopg(sql), params)
            return cursor.rowcount

    async def insert(self, sql: str, params: Sequence[object] = ()) -> int:
        with self._health.watch():
            cursor = await self._connection.execute(to_psycopg(sql) + " RETURNING id", params)
            row = await cursor.fetchone()
        if row is None:
            raise RuntimeError("the insert created no row")
        return int(dict(row)["id"])

    async def fetch_all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with self._health.watch():
            cursor = await self._connection.execute(to_psycopg(sql), params)
            return [dict(row) for row in await cursor.fetchall()]

    async def fetch_one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        with self._health.watch():
            cursor = await self._connection.execute(to_psycopg(sql), params)
            row = await cursor.fetchone()
        return None if row is None else dict(row)

    async def lock(self, name: str) -> None:
        """Hold the named lock until the transaction ends (other holders wait)."""
        await self.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))


class PostgresDatabase:
    """The Database protocol on a PostgreSQL database."""

    dialect = "postgres"

    def __init__(self, pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], url: str) -> None:
        self._pool = pool
        self.url = url
        self._health = _Health()

    @property
    def reachable(self) -> bool:
        """False from the first failed request until one succeeds again."""
        return self._health.up

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 10) -> PostgresDatabase:
        """Connect (raises DatabaseUnavailableError when the server cannot be reached)."""
        try:
            # One plain connection first: its error says why (refused, unknown host, bad
            # password), where a pool would only say that it timed out.
            probe = await psycopg.AsyncConnection.connect(url, connect_timeout=int(CONNECT_TIMEOUT))
            await probe.close()
        except psycopg.OperationalError as error:
            raise DatabaseUnavailableError("unreachable", _first_line(error)) from None
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={"row_factory": dict_row, "autocommit": True, "options": SESSION_OPTIONS},
            # A connection is checked as it is handed out: after a server restart the pool
            # replaces its dead connections instead of failing one request per connection.
            check=AsyncConnectionPool.check_connection,
            timeout=CONNECT_TIMEOUT,
            reconnect_timeout=0,  # keep trying for ever: a restart must not end the pool
            open=False,
            name="emo-bot",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except (psycopg.OperationalError, PoolTimeout) as error:
            await pool.close()
            raise DatabaseUnavailableError(type(error).__name__, _first_line(error)) from None
        except BaseException:
            await pool.close()
            raise
        return cls(pool, url)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        with self._health.watch():
            async with self._pool.connection() as connection:
                yield connection

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._connection() as connection:
            with self._health.watch():
                async with connection.transaction():
                    yield _PostgresConnection(connection, self._health)

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        async with self._connection() as connection:
            return await _PostgresConnection(connection, self._health).execute(sql, params)

    async def insert(self, sql: str, params: Sequence[object] = ()) -> int:
        async with self._connection() as connection:
            return await _PostgresConnection(connection, self._health).insert(sql, params)

    async def fetch_all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        async with self._connection() as connection:
            return await _PostgresConnection(connection, self._health).fetch_all(sql, params)

    async def fetch_one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        async with self._connection() as connection:
            return await _PostgresConnection(connection, self._health).fetch_one(sql, params)

    async def lock(self, name: str) -> None:
        """A named lock outside a transaction means nothing: only transactions take one."""

    async def close(self) -> None:
        await self._pool.close()
