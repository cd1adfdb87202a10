"""What a repository may ask of the database, whatever the backend.

Repositories write SQL with ``?`` placeholders and pass plain values (numbers, text, booleans,
aware datetimes, None); a backend adapts both. Rows come back as mappings by column name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bot.errors import QuietError

Row = Mapping[str, Any]
"""One result row by column name."""


class StaleRowError(RuntimeError):
    """A compare-and-set found the row changed: another worker moved it first."""


class DatabaseUnavailableError(QuietError, RuntimeError):
    """The database cannot be reached (a restart, a dropped connection). Nothing was
    written; trying again later is the cure."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


class DatabaseStartError(RuntimeError):
    """The database cannot be used as it is, and retrying will not change that (a read-only
    or full disk, a damaged file, a newer bot's schema). The message is one line naming the
    problem and what to do; the process says it and exits with status 2."""


class Connection(Protocol):
    """Statements on one connection: inside a transaction, or a read on its own."""

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run a statement; return how many rows it changed."""
        ...

    async def insert(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run an INSERT into a table with an integer ``id``; return the new row's id."""
        ...

    async def fetch_all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Every row of a query."""
        ...

    async def fetch_one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        """The first row of a query, if any."""
        ...

    async def lock(self, name: str) -> None:
        """Inside a transaction: hold the named lock until it ends, so transactions of every
        process that take it run one at a time (SQLite's write lock already does)."""
        ...


class Database(Connection, Protocol):
    """The bot's database. Reads on it see only committed data; writes go in transactions."""

    dialect: str  # "sqlite" or "postgres": which migrations and SQL spellings apply

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        """One write transaction: committed at the end of the block, rolled back on error."""
        ...

    async def close(self) -> None:
        """Let writes under way finish, then close every connection."""
        ...
