"""The migration runner: each package brings its own migrations; this applies them in order.

A ``Schema`` names a package's tables (its component) and lists its migrations per dialect,
oldest first. ``schema_versions`` records how far each component has got. All of it runs in
one transaction, so a failed migration leaves the database as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.db import legacy
from bot.db.database import Connection, Database, DatabaseStartError
from bot.db.scripts import statements

log = logging.getLogger(__name__)

VERSIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class Schema:
    """One package's tables. Never edit a released migration: append a new one."""

    component: str
    migrations: Mapping[str, tuple[str, ...]]  # dialect -> scripts, oldest first

    def scripts(self, dialect: str) -> tuple[str, ...]:
        return self.migrations.get(dialect, ())


LEGACY = "legacy"
"""The component named when ``PRAGMA user_version`` is what is too new."""

_CURE = "run the newer bot, or restore a backup made by this version"


class SchemaTooNewError(DatabaseStartError):
    """The database was written by a newer version of the bot: refuse rather than guess.

    ``known`` is 0 for a component this bot has never heard of (a newer bot's tables)."""

    def __init__(self, component: str, found: int, known: int) -> None:
        if component == LEGACY:
            what = f"the database's schema version (PRAGMA user_version) is {found}"
            knows = f"this bot knows up to {known}" if known else "this bot keeps it at 0"
        elif known == 0:
            what = f"the database has {component} tables at version {found}"
            knows = "this bot has no such tables"
        else:
            what = f"the database's {component} tables are at version {found}"
            knows = f"this bot knows {known}"
        super().__init__(f"{what}, {knows}: {_CURE}")
        self.component = component
        self.found = found
        self.known = known


async def versions(connection: Connection) -> dict[str, int]:
    rows = await connection.fetch_all("SELECT component, version FROM schema_versions")
    return {str(row["component"]): int(row["version"]) for row in rows}


async def _adopt_legacy(tx: Connection, reached: dict[str, int]) -> dict[str, int]:
    """A database from before per-package migrations: converted to the baselines. Once
    converted, ``user_version`` stays 0, so any other value is a newer bot's mark."""
    newest = len(legacy.LEGACY_MIGRATIONS)
    if not reached:
        try:
            return await legacy.adopt(tx)
        except legacy.LegacyTooNewError as error:
            raise SchemaTooNewError(LEGACY, error.version, newest) from None
    row = await tx.fetch_one("PRAGMA user_version")
    version = int(row["user_version"]) if row else 0
    if version != 0:
        raise SchemaTooNewError(LEGACY, version, 0)
    return reached


async def migrate(db: Database, schemas: Sequence[Schema]) -> dict[str, int]:
    """Bring every component up to date; return the versions reached."""
    async with db.transaction() as tx:
        # Two processes starting together: the second waits, then finds everything done.
        await tx.lock("emo-bot schema migrations")
        await tx.execute(VERSIONS_TABLE)
        reached = await versions(tx)
        if db.dialect == "sqlite":
            reached = await _adopt_legacy(tx, reached)
        known = {schema.component for schema in schemas}
        for component, version in sorted(reached.items()):
            if component not in known:  # a newer bot's package: its rows would be ignored
                raise SchemaTooNewError(component, version, 0)

        for schema in schemas:
            scripts = schema.scripts(db.dialect)
            current = reached.get(schema.component, 0)
            if current > len(scripts):
                raise SchemaTooNewError(schema.component, current, len(scripts))
            for number, script in enumerate(scripts[current:], start=current + 1):
                for statement in statements(script):
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO schema_versions (component, version) VALUES (?, ?)"
                    " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                    (schema.component, number),
                )
                log.info("database: %s tables migrated to version %d", schema.component, number)
                reached[schema.component] = number
    return reached
