"""``python -m bot backup FILE`` and ``python -m bot restore FILE``: the command line's side of
``bot/db/backup.py``. One line of output either way; on PostgreSQL, how to do it instead.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from bot.core import SCHEMAS
from bot.db.backup import BackupError, RestoreRefusedError, backup, restore
from bot.settings import Settings

EXIT_FAILED = 1  # not done: the line says why (a bot running, a damaged copy, a full disk)
EXIT_NOT_HERE = 2  # not done: PostgreSQL is backed up with its own tools

PG_BACKUP = (
    "EMO_DATABASE_URL names a PostgreSQL database, which this command does not copy: back "
    "it up with PostgreSQL's own tool, while the bot runs: "
    'pg_dump --format=custom --file={file} "$EMO_DATABASE_URL" '
    "(the media files in EMO_DATA_DIR are not in it). Nothing was written."
)
PG_RESTORE = (
    "EMO_DATABASE_URL names a PostgreSQL database, which this command does not restore: stop "
    "every bot process, then: "
    'pg_restore --clean --if-exists --no-owner --dbname="$EMO_DATABASE_URL" {file} '
    "(a dump of pg_dump --format=custom). Nothing was changed."
)


def known_versions() -> dict[str, int]:
    """The schema version of each component this bot knows, on SQLite."""
    return {schema.component: len(schema.scripts("sqlite")) for schema in SCHEMAS}


def run_backup(settings: Settings, name: str) -> int:
    file = Path(name)
    if settings.database_url is not None:
        print(PG_BACKUP.format(file=shlex.quote(name)), file=sys.stderr)
        return EXIT_NOT_HERE
    live = settings.database_path
    try:
        report = backup(live, file, busy_timeout=settings.emo_sqlite_busy_timeout_seconds)
    except BackupError as error:
        print(f"Backup failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Backed up {live} to {file}: {report.describe()}.")
    return 0


def run_restore(settings: Settings, name: str) -> int:
    file = Path(name)
    if settings.database_url is not None:
        print(PG_RESTORE.format(file=shlex.quote(name)), file=sys.stderr)
        return EXIT_NOT_HERE
    live = settings.database_path
    try:
        report = restore(file, live, known_versions(), data_dir=settings.emo_data_dir)
    except RestoreRefusedError as error:
        print(f"Restore refused: {error}. Nothing was changed.", file=sys.stderr)
        return EXIT_FAILED
    except BackupError as error:
        unchanged = "" if error.changed else " Nothing was changed."
        print(f"Restore failed: {error}.{unchanged}", file=sys.stderr)
        return EXIT_FAILED
    kept = f"; the database it replaced is kept as {report.kept}" if report.kept else ""
    print(
        f"Restored {file} into {live} ({report.restored.describe()}){kept}. "
        "Start the bot: its unfinished jobs resume."
    )
    return 0
