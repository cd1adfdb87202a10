"""The cards' SQL, in one place, and their table's migrations."""

from __future__ import annotations

from datetime import datetime

from bot.cards.repository import CardRecord
from bot.clock import Clock, as_utc, utcnow
from bot.db.database import Database, Row
from bot.db.migrations import Schema
from bot.jobs.states import TERMINAL_STATES, JobState

# The same DDL converts legacy databases (bot/db/legacy.py): never edit, append.
_SQLITE_BASELINE = """
CREATE TABLE job_cards (
    job_id INTEGER PRIMARY KEY REFERENCES jobs (id),
    message_id INTEGER,
    shown_state TEXT,
    notice_id INTEGER,
    result_id INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
CREATE INDEX job_cards_by_message ON job_cards (message_id);
CREATE INDEX job_cards_by_notice ON job_cards (notice_id);
CREATE INDEX job_cards_by_result ON job_cards (result_id)
"""

_POSTGRES_BASELINE = """
CREATE TABLE job_cards (
    job_id BIGINT PRIMARY KEY REFERENCES jobs (id),
    message_id BIGINT,
    shown_state TEXT,
    notice_id BIGINT,
    result_id BIGINT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX job_cards_by_message ON job_cards (message_id);
CREATE INDEX job_cards_by_notice ON job_cards (notice_id);
CREATE INDEX job_cards_by_result ON job_cards (result_id)
"""

# v2: whether the card carries the crop of what will be animated (uploaded once per card).
_SQLITE_V2 = "ALTER TABLE job_cards ADD COLUMN preview_shown INTEGER NOT NULL DEFAULT 0"
_POSTGRES_V2 = "ALTER TABLE job_cards ADD COLUMN preview_shown BOOLEAN NOT NULL DEFAULT FALSE"

SCHEMA = Schema(
    component="cards",
    migrations={
        "sqlite": (_SQLITE_BASELINE, _SQLITE_V2),
        "postgres": (_POSTGRES_BASELINE, _POSTGRES_V2),
    },
)

_FINAL = ",".join(f"'{state.value}'" for state in sorted(TERMINAL_STATES))


def _record(row: Row) -> CardRecord:
    updated = as_utc(row["updated_at"])
    assert updated is not None
    return CardRecord(
        job_id=int(row["job_id"]),
        message_id=row["message_id"],
        shown=JobState(row["shown_state"]) if row["shown_state"] else None,
        deleted=bool(row["deleted"]),
        notice_id=row["notice_id"],
        result_id=row["result_id"],
        updated_at=updated,
        preview=bool(row["preview_shown"]),
    )


class SqlCardRepository:
    """``CardRepository`` on the database layer."""

    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def _upsert(self, job_id: int, column_values: dict[str, object]) -> None:
        columns = ", ".join(column_values)
        marks = ", ".join("?" for _ in column_values)
        updates = ", ".join(f"{name} = excluded.{name}" for name in column_values)
        await self._db.execute(
            f"INSERT INTO job_cards (job_id, {columns}, updated_at) VALUES (?, {marks}, ?)"
            f" ON CONFLICT (job_id) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
            [job_id, *column_values.values(), self._clock()],
        )

    async def get(self, job_id: int) -> CardRecord | None:
        row = await self._db.fetch_one("SELECT * FROM job_cards WHERE job_id = ?", (job_id,))
        return None if row is None else _record(row)

    async def shown(
        self, job_id: int, *, message_id: int, state: JobState, preview: bool | None = None
    ) -> None:
        values: dict[str, object] = {"message_id": message_id, "shown_state": state.value}
        if preview is not None:
            values["preview_shown"] = preview
        await self._upsert(job_id, values)

    async def purged_previews(self) -> list[int]:
        rows = await self._db.fetch_all(
            "SELECT job_cards.job_id FROM job_cards JOIN jobs ON jobs.id = job_cards.job_id"
            " WHERE job_cards.preview_shown = ? AND job_cards.deleted = ?"
            " AND job_cards.message_id IS NOT NULL AND jobs.inputs_purged_at IS NOT NULL"
            " ORDER BY job_cards.job_id",
            (True, False),
        )
        return [int(row["job_id"]) for row in rows]

    async def deleted(self, job_id: int) -> None:
        await self._upsert(job_id, {"deleted": True})

    async def notice(self, job_id: int, message_id: int) -> None:
        await self._upsert(job_id, {"notice_id": message_id})

    async def result(self, job_id: int, message_id: int) -> None:
        await self._upsert(job_id, {"result_id": message_id})

    async def job_for_message(self, message_id: int) -> int | None:
        row = await self._db.fetch_one(
            "SELECT job_id FROM job_cards WHERE message_id = ? OR notice_id = ?"
            " OR result_id = ? ORDER BY job_id DESC LIMIT 1",
            (message_id, message_id, message_id),
        )
        return None if row is None else int(row["job_id"])

    async def live(self, since: datetime) -> list[CardRecord]:
        rows = await self._db.fetch_all(
            "SELECT * FROM job_cards WHERE message_id IS NOT NULL AND deleted = ?"
            f" AND (shown_state IS NULL OR shown_state NOT IN ({_FINAL}))"
            " AND updated_at >= ? ORDER BY job_id",
            (False, since),
        )
        return [_record(row) for row in rows]
