"""The jobs' tables and their migrations (the columns themselves are declared once, in
``bot.jobs.models``; a test keeps the table equal to the model)."""

from __future__ import annotations

from bot.db.migrations import Schema

_SQLITE_BASELINE = """
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
    trim_audio INTEGER NOT NULL DEFAULT 0,
    upload_limit_bytes INTEGER NOT NULL,
    deliver_dm INTEGER NOT NULL DEFAULT 0,
    retry_of INTEGER REFERENCES jobs (id),
    requested_by INTEGER,
    image_source_url TEXT NOT NULL,
    audio_source_url TEXT NOT NULL,
    image_sha256 TEXT,
    audio_sha256 TEXT,
    audio_seconds REAL,
    image_url TEXT,
    audio_url TEXT,
    face_box TEXT,
    ext_box TEXT,
    estimate_usd REAL,
    queued_at TEXT,
    not_before TEXT,
    task_id TEXT UNIQUE,
    submitted_at TEXT,
    started_at TEXT,
    cancel_requested_at TEXT,
    result_url TEXT,
    video_seconds REAL,
    cost_usd REAL,
    render_seconds REAL,
    finished_at TEXT,
    message_id INTEGER,
    delivered_at TEXT,
    error_key TEXT,
    error_detail TEXT,
    inputs_purged_at TEXT,
    outputs_purged_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE INDEX jobs_by_guild ON jobs (guild_id, state);
CREATE INDEX jobs_by_user ON jobs (user_id, state);
CREATE INDEX jobs_by_retry ON jobs (retry_of, state);
CREATE INDEX jobs_by_guild_created ON jobs (guild_id, created_at);
CREATE INDEX jobs_by_user_created ON jobs (user_id, created_at);
CREATE TABLE job_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    from_state TEXT,
    to_state TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX job_events_by_job ON job_events (job_id, id)
"""

# v2: the task's status as last seen (a SUSPENDED render shows on the card), and the task a
# provider-side failure was retried after (still ours: settlement must know it).
_SQLITE_V2 = """
ALTER TABLE jobs ADD COLUMN provider_status TEXT;
ALTER TABLE jobs ADD COLUMN retried_task_id TEXT;
CREATE INDEX jobs_by_retried_task ON jobs (retried_task_id)
"""

SCHEMA = Schema(component="jobs", migrations={"sqlite": (_SQLITE_BASELINE, _SQLITE_V2)})
