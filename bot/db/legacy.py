"""Databases from before per-package migrations (``PRAGMA user_version`` 1 to 5).

Frozen: the schema history as the bot shipped it, and the one conversion of its last layout
into the per-package baselines (every component at version 1). Never edited.
"""

from __future__ import annotations

import logging

from bot.db.database import Connection
from bot.db.scripts import statements

log = logging.getLogger(__name__)

LEGACY_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        state TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        guild_id INTEGER,
        channel_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        locale TEXT NOT NULL,
        style TEXT NOT NULL,
        framing TEXT NOT NULL,
        upload_limit_bytes INTEGER NOT NULL,
        image_source_url TEXT NOT NULL,
        audio_source_url TEXT NOT NULL,
        audio_seconds REAL,
        image_url TEXT,
        audio_url TEXT,
        face_box TEXT,
        ext_box TEXT,
        task_id TEXT UNIQUE,
        result_url TEXT,
        video_seconds REAL,
        cost_usd REAL,
        message_id INTEGER,
        error_key TEXT,
        error_detail TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        submitted_at TEXT,
        finished_at TEXT,
        delivered_at TEXT
    );
    CREATE INDEX jobs_by_state ON jobs (state, id);
    CREATE TABLE job_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs (id),
        from_state TEXT,
        to_state TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX job_events_by_job ON job_events (job_id, id);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    ALTER TABLE jobs ADD COLUMN trim_audio INTEGER NOT NULL DEFAULT 0;
    """,
    """
    ALTER TABLE jobs ADD COLUMN not_before TEXT;
    ALTER TABLE jobs ADD COLUMN queued_at TEXT;
    ALTER TABLE jobs ADD COLUMN started_at TEXT;
    ALTER TABLE jobs ADD COLUMN render_seconds REAL;
    ALTER TABLE jobs ADD COLUMN polls INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX jobs_by_guild ON jobs (guild_id, state);
    CREATE INDEX jobs_by_user ON jobs (user_id, state);
    """,
    """
    ALTER TABLE jobs ADD COLUMN card_message_id INTEGER;
    ALTER TABLE jobs ADD COLUMN card_state TEXT;
    ALTER TABLE jobs ADD COLUMN notice_message_id INTEGER;
    ALTER TABLE jobs ADD COLUMN retry_of INTEGER REFERENCES jobs (id);
    ALTER TABLE jobs ADD COLUMN requested_by INTEGER;
    ALTER TABLE jobs ADD COLUMN deliver_dm INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN cancel_requested_at TEXT;
    ALTER TABLE jobs ADD COLUMN image_sha256 TEXT;
    ALTER TABLE jobs ADD COLUMN audio_sha256 TEXT;
    ALTER TABLE jobs ADD COLUMN estimate_usd REAL;
    CREATE INDEX jobs_by_card ON jobs (card_message_id);
    CREATE INDEX jobs_by_message ON jobs (message_id);
    CREATE INDEX jobs_by_notice ON jobs (notice_message_id);
    CREATE INDEX jobs_by_retry ON jobs (retry_of, state);
    """,
    # v5, server administration (bot/guilds/): per-server settings and their history,
    # pending media erasures, and when each job's cached media were deleted.
    """
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
    );
    ALTER TABLE jobs ADD COLUMN inputs_purged_at TEXT;
    ALTER TABLE jobs ADD COLUMN outputs_purged_at TEXT;
    """,
)

# The status card's columns leave ``jobs`` for the Discord edge's own table (``cards`` v1).
_TO_BASELINES = """
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
CREATE INDEX job_cards_by_result ON job_cards (result_id);
INSERT INTO job_cards (job_id, message_id, shown_state, notice_id, result_id, deleted, updated_at)
    SELECT id, NULLIF(card_message_id, 0), card_state, notice_message_id, message_id,
           COALESCE(card_message_id = 0, 0), updated_at
    FROM jobs
    WHERE card_message_id IS NOT NULL OR notice_message_id IS NOT NULL OR message_id IS NOT NULL;
DROP INDEX jobs_by_card;
DROP INDEX jobs_by_message;
DROP INDEX jobs_by_notice;
ALTER TABLE jobs DROP COLUMN card_message_id;
ALTER TABLE jobs DROP COLUMN card_state;
ALTER TABLE jobs DROP COLUMN notice_message_id;
ALTER TABLE jobs DROP COLUMN polls
"""

BASELINES = {"meta": 1, "jobs": 1, "cards": 1, "guilds": 1}


async def adopt(tx: Connection) -> dict[str, int]:
    """Convert a pre-component database to the baselines; {} for a new, empty one.

    Raises SchemaTooNewError-like RuntimeError for a ``user_version`` beyond the last
    legacy one: such a file comes from a bot this code does not know.
    """
    row = await tx.fetch_one("PRAGMA user_version")
    version = int(row["user_version"]) if row else 0
    if version == 0:
        return {}
    if version > len(LEGACY_MIGRATIONS):
        raise LegacyTooNewError(version)
    for number, script in enumerate(LEGACY_MIGRATIONS[version:], start=version + 1):
        for statement in statements(script):
            await tx.execute(statement)
        log.info("database: legacy schema upgraded to version %d", number)
    for statement in statements(_TO_BASELINES):
        await tx.execute(statement)
    await tx.execute("PRAGMA user_version = 0")
    for component, number in BASELINES.items():
        await tx.execute(
            "INSERT INTO schema_versions (component, version) VALUES (?, ?)", (component, number)
        )
    log.info("database: converted to per-package migrations (%s)", BASELINES)
    return dict(BASELINES)


class LegacyTooNewError(RuntimeError):
    """A pre-component ``user_version`` this code never wrote."""

    def __init__(self, version: int) -> None:
        super().__init__(
            f"the database has schema version {version}, which this bot never wrote: run the "
            "newer bot, or restore a backup made by this version"
        )
        self.version = version
