"""Running a test on both database backends.

``BOTH_BACKENDS`` marks a test, or a module through ``pytestmark``, to run once on SQLite and
once on a real PostgreSQL server (``tests/support/postgres.py``, started once per session by
the ``postgres_server`` fixture). The ``database_url`` fixture is the test's EMO_DATABASE_URL:
empty for SQLite, a fresh database of its own on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core import SCHEMAS
from bot.db.database import Database
from bot.db.migrations import migrate
from bot.db.postgres import PostgresDatabase
from bot.db.sqlite import SqliteDatabase

BOTH_BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


async def open_test_database(database_url: str, folder: Path, *, migrated: bool = True) -> Database:
    """The test's database: SQLite in ``folder`` when ``database_url`` is empty."""
    db: Database
    if database_url:
        db = await PostgresDatabase.open(database_url)
    else:
        db = await SqliteDatabase.open(folder / "emo-bot.sqlite3")
    if migrated:
        await migrate(db, SCHEMAS)
    return db
