"""Server administration's SQL, in one place, and its tables' migrations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from bot.clock import as_utc
from bot.db.database import Database, Row
from bot.db.migrations import Schema
from bot.guilds.repository import Erasure, StoredChange
from bot.jobs.repository import MediaOwner

_SQLITE_BASELINE = """
CREATE TABLE guild_settings (
    guild_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_by INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (guild_id, name)
);
CREATE TABLE guild_settings_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    changed_by INTEGER NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX guild_settings_changes_by_guild ON guild_settings_changes (guild_id, id);
CREATE TABLE media_erasures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER,
    user_id INTEGER,
    up_to_job_id INTEGER NOT NULL,
    requested_at TEXT NOT NULL
)
"""

SCHEMA = Schema(component="guilds", migrations={"sqlite": (_SQLITE_BASELINE,)})


def _change(row: Row) -> StoredChange:
    at = as_utc(row["changed_at"])
    assert at is not None
    return StoredChange(
        guild_id=int(row["guild_id"]),
        name=str(row["name"]),
        old_value=row["old_value"],
        new_value=row["new_value"],
        changed_by=int(row["changed_by"]),
        changed_at=at,
    )


class SqlGuildRepository:
    """``GuildRepository`` on the database layer."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def overrides(self, guild_id: int) -> dict[str, str]:
        rows = await self._db.fetch_all(
            "SELECT name, value FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        return {str(row["name"]): str(row["value"]) for row in rows}

    async def write(
        self, guild_id: int, values: Mapping[str, str | None], *, by: int, at: datetime
    ) -> list[StoredChange]:
        changes: list[StoredChange] = []
        async with self._db.transaction() as tx:
            for name, value in values.items():
                row = await tx.fetch_one(
                    "SELECT value FROM guild_settings WHERE guild_id = ? AND name = ?",
                    (guild_id, name),
                )
                old = None if row is None else str(row["value"])
                if old == value:
                    continue
                if value is None:
                    await tx.execute(
                        "DELETE FROM guild_settings WHERE guild_id = ? AND name = ?",
                        (guild_id, name),
                    )
                else:
                    await tx.execute(
                        "INSERT INTO guild_settings (guild_id, name, value, updated_by, updated_at)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, name) DO UPDATE SET"
                        " value = excluded.value, updated_by = excluded.updated_by,"
                        " updated_at = excluded.updated_at",
                        (guild_id, name, value, by, at),
                    )
                await tx.execute(
                    "INSERT INTO guild_settings_changes"
                    " (guild_id, name, old_value, new_value, changed_by, changed_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (guild_id, name, old, value, by, at),
                )
                changes.append(StoredChange(guild_id, name, old, value, by, at))
        return changes

    async def history(self, guild_id: int, limit: int) -> list[StoredChange]:
        rows = await self._db.fetch_all(
            "SELECT guild_id, name, old_value, new_value, changed_by, changed_at"
            " FROM guild_settings_changes WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [_change(row) for row in rows]

    async def add_erasure(self, owner: MediaOwner, up_to_job_id: int, at: datetime) -> None:
        await self._db.execute(
            "INSERT INTO media_erasures (guild_id, user_id, up_to_job_id, requested_at)"
            " VALUES (?, ?, ?, ?)",
            (owner.guild_id, owner.user_id, up_to_job_id, at),
        )

    async def erasures(self) -> list[Erasure]:
        rows = await self._db.fetch_all(
            "SELECT id, guild_id, user_id, up_to_job_id FROM media_erasures ORDER BY id"
        )
        return [
            Erasure(
                id=int(row["id"]),
                owner=(
                    MediaOwner(user_id=int(row["user_id"]))
                    if row["user_id"] is not None
                    else MediaOwner(guild_id=int(row["guild_id"]))
                ),
                up_to_job_id=int(row["up_to_job_id"]),
            )
            for row in rows
        ]

    async def drop_erasure(self, erasure_id: int) -> None:
        await self._db.execute("DELETE FROM media_erasures WHERE id = ?", (erasure_id,))
