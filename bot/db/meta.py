"""Small named values the bot keeps between runs (the command hash, a provider pause).

The ``meta`` table belongs to the database layer; each value's meaning belongs to whoever
names it.
"""

from __future__ import annotations

from bot.db.database import Database
from bot.db.migrations import Schema

_TABLE = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

SCHEMA = Schema(component="meta", migrations={"sqlite": (_TABLE,), "postgres": (_TABLE,)})


class MetaStore:
    """Reads and writes named text values."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> str | None:
        row = await self._db.fetch_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set(self, key: str, value: str) -> None:
        await self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def delete(self, key: str) -> None:
        await self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
