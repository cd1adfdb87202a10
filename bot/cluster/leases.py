"""Leases: a duty that must run in one place at a time (the prober, the retention sweep, ...)
is held by one process, renewed by its heartbeat, and taken over once it lapses.

A lease is a row: its name, its holder and when it lapses. Taking it succeeds when it is
free, lapsed, or already the taker's (a restarted process with the same name takes its own
back at once).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from bot.clock import Clock, utcnow
from bot.db.database import Database
from bot.db.migrations import Schema

_SQLITE = """
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at TEXT NOT NULL
)
"""
_POSTGRES = """
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
)
"""

SCHEMA = Schema(component="leases", migrations={"sqlite": (_SQLITE,), "postgres": (_POSTGRES,)})


class Leases:
    """Takes, renews and gives back named leases for one process (``owner``)."""

    def __init__(self, db: Database, *, owner: str, ttl: timedelta, clock: Clock = utcnow) -> None:
        self._db = db
        self.owner = owner
        self.ttl = ttl
        self._clock = clock

    def until(self) -> datetime:
        """When a lease taken or renewed now lapses."""
        return self._clock() + self.ttl

    async def take(self, name: str) -> bool:
        """Hold ``name`` for a ``ttl`` if it is free, lapsed or ours; True when held."""
        now = self._clock()
        changed = await self._db.execute(
            "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
            " expires_at = excluded.expires_at"
            " WHERE leases.owner = excluded.owner OR leases.expires_at < ?",
            (name, self.owner, now + self.ttl, now),
        )
        return changed == 1

    async def renew(self, names: Collection[str]) -> set[str]:
        """Extend the leases of ``names`` still ours; return those."""
        kept: set[str] = set()
        for name in names:
            changed = await self._db.execute(
                "UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ?",
                (self.until(), name, self.owner),
            )
            if changed == 1:
                kept.add(name)
        return kept

    async def give_back(self, names: Collection[str]) -> None:
        """Let others take these at once (a clean stop)."""
        for name in names:
            await self._db.execute(
                "UPDATE leases SET expires_at = ? WHERE name = ? AND owner = ?",
                (self._clock() - timedelta(seconds=1), name, self.owner),
            )

    async def holder(self, name: str) -> tuple[str, datetime] | None:
        row = await self._db.fetch_one(
            "SELECT owner, expires_at FROM leases WHERE name = ?", (name,)
        )
        if row is None:
            return None
        expires = row["expires_at"]
        moment = datetime.fromisoformat(expires) if isinstance(expires, str) else expires
        return str(row["owner"]), moment
