"""A bot process's job rows and card records, read straight from its database (either
backend), for the end-to-end tests to see what the bot decided."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.support.bot_process import BotProcess

_QUERY = (
    "SELECT jobs.*, job_cards.message_id AS card_message_id,"
    " job_cards.preview_shown AS card_preview FROM jobs"
    " LEFT JOIN job_cards ON job_cards.job_id = jobs.id ORDER BY jobs.id"
)


def job_rows(bot: BotProcess) -> list[dict[str, Any]]:
    """Every job's row, with its card's message id and whether the card carries the crop."""
    url = bot.environment.get("EMO_DATABASE_URL")
    if url:
        with psycopg.connect(url, row_factory=dict_row) as connection:
            return list(connection.execute(_QUERY).fetchall())
    path = Path(bot.environment["EMO_DATA_DIR"]) / "emo-bot.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(_QUERY)]


def job_row(bot: BotProcess, job_id: int) -> dict[str, Any]:
    rows = [row for row in job_rows(bot) if row["id"] == job_id]
    assert rows, f"no job {job_id}"
    return rows[0]


def job_state(bot: BotProcess, job_id: int) -> str | None:
    rows = [row for row in job_rows(bot) if row["id"] == job_id]
    return str(rows[0]["state"]) if rows else None
