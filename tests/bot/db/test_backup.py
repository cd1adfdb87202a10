"""Backups and restores of the SQLite database (bot/db/backup.py), on real files: a writer in
another process, the data directory's lock, SQLite's own lock, damaged and newer copies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.backups import known_versions
from bot.core import SCHEMAS
from bot.db import lock
from bot.db.backup import BackupError, RestoreRefusedError, backup, inspect, restore
from bot.db.meta import MetaStore
from bot.db.migrations import migrate
from bot.db.sqlite import SqliteDatabase
from tests.support.commands import run_bot_command

pytestmark = pytest.mark.timeout(120)

# Keeps committing one `meta` row per transaction until killed; prints how far it got.
WRITER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("PRAGMA journal_mode=WAL")
i = 0
while True:
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO meta (key, value) VALUES (?, hex(randomblob(1000)))", (f"w{i:07d}",))
    db.execute("COMMIT")
    i += 1
    if i == 50:
        print("writing", flush=True)
"""


async def _bot_database(path: Path, filler_rows: int = 0) -> None:
    """A database as the bot makes it (every component migrated), with some bulk."""
    db = await SqliteDatabase.open(path)
    try:
        await migrate(db, SCHEMAS)
        meta = MetaStore(db)
        async with db.transaction() as tx:
            for n in range(filler_rows):
                await tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)", (f"f{n:05d}", "x" * 2000)
                )
        await meta.set("marker", "before")
    finally:
        await db.close()


def _keys(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return {str(row[0]) for row in db.execute("SELECT key FROM meta")}


def _value(path: Path, key: str) -> str | None:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


@contextlib.contextmanager
def _writer(path: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "writing"
        yield process
    finally:
        process.kill()
        process.wait()


async def test_a_backup_under_writes_is_intact_and_holds_every_row_committed_before_it(
    tmp_path: Path,
) -> None:
    live = tmp_path / "data" / "emo-bot.sqlite3"
    await _bot_database(live, filler_rows=5000)  # about 10 MB
    target = tmp_path / "backup.sqlite3"
    with _writer(live):
        committed = _keys(live)  # read by a connection of its own: committed rows only
        await asyncio.sleep(0.3)  # the writer commits more before the backup begins
        started = time.monotonic()
        report = backup(live, target, busy_timeout=10)
        took = time.monotonic() - started
        after = _keys(live)
    copied = _keys(target)
    written_before = {key for key in committed if key.startswith("w")}
    assert len(written_before) >= 50
    assert committed < copied  # every row committed before the backup began, and more
    assert copied <= after  # nothing that was never committed
    assert len(after) > len(copied)  # the writer kept committing

    with contextlib.closing(sqlite3.connect(target)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
    assert not Path(f"{target}-wal").exists()
    assert report.versions == known_versions()
    assert report.rows["meta"] == len(copied)
    assert report.size == target.stat().st_size > 10_000_000
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial
    print(
        f"backup of {report.size / 1e6:.1f} MB in {took:.2f} s: {len(committed)} rows committed "
        f"before it, {len(copied)} in the copy, {len(after)} in the live database after it"
    )


async def test_a_backup_replaces_an_older_one_and_refuses_the_live_file(tmp_path: Path) -> None:
    live = tmp_path / "emo-bot.sqlite3"
    await _bot_database(live)
    target = tmp_path / "latest.sqlite3"
    backup(live, target, busy_timeout=10)
    db = await SqliteDatabase.open(live)
    await MetaStore(db).set("marker", "after")
    await db.close()
    backup(live, target, busy_timeout=10)
    assert _value(target, "marker") == "after"
    for wrong in (live, tmp_path / "emo-bot.sqlite3-wal", tmp_path):
        with pytest.raises(BackupError):
            backup(live, wrong, busy_timeout=10)
    with pytest.raises(BackupError, match="there is no database at"):
        backup(tmp_path / "missing.sqlite3", tmp_path / "x.sqlite3", busy_timeout=10)
    assert not (tmp_path / "missing.sqlite3").exists()  # nothing created where none was


async def test_a_damaged_a_foreign_and_a_newer_copy_are_refused(tmp_path: Path) -> None:
    live = tmp_path / "emo-bot.sqlite3"
    await _bot_database(live, filler_rows=200)
    known = known_versions()

    damaged = tmp_path / "damaged.sqlite3"
    backup(live, damaged, busy_timeout=10)
    data = bytearray(damaged.read_bytes())
    page = 4096
    data[page * 3 : page * 3 + 200] = b"\xff" * 200  # a b-tree page scribbled over
    damaged.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=r"integrity check|not a usable SQLite database"):
        inspect(damaged, known)

    foreign = tmp_path / "foreign.sqlite3"
    with contextlib.closing(sqlite3.connect(foreign)) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(BackupError, match="is not an emo-bot database"):
        inspect(foreign, known)

    newer = tmp_path / "newer.sqlite3"
    backup(live, newer, busy_timeout=10)
    with contextlib.closing(sqlite3.connect(newer)) as db:
        db.execute("UPDATE schema_versions SET version = version + 1 WHERE component = 'jobs'")
        db.commit()
    with pytest.raises(BackupError, match="was written by a newer bot: its jobs tables"):
        inspect(newer, known)

    # A newer bot's own tables, or its mark in PRAGMA user_version, which this bot keeps at 0.
    unknown = tmp_path / "unknown.sqlite3"
    marked = tmp_path / "marked.sqlite3"
    for path, change in (
        (unknown, "INSERT INTO schema_versions (component, version) VALUES ('billing', 1)"),
        (marked, "PRAGMA user_version = 99"),
    ):
        backup(live, path, busy_timeout=10)
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(change)
            db.commit()
    with pytest.raises(BackupError, match="newer bot: it has billing tables"):
        inspect(unknown, known)
    with pytest.raises(BackupError, match=r"newer bot: its schema version \(PRAGMA user_version"):
        inspect(marked, known)

    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"definitely not SQLite " * 500)
    with pytest.raises(BackupError, match="not a usable SQLite database"):
        inspect(garbage, known)

    # The live database was never touched by any of these.
    for bad in (damaged, foreign, newer, unknown, marked, garbage):
        with pytest.raises(BackupError):
            restore(bad, live, known, data_dir=tmp_path)
    assert _value(live, "marker") == "before"
    assert [p.name for p in tmp_path.glob("*.before-restore-*")] == []


async def test_restore_is_refused_while_a_bot_holds_the_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    live = data / "emo-bot.sqlite3"
    await _bot_database(live)
    copy = tmp_path / "copy.sqlite3"
    backup(live, copy, busy_timeout=10)
    async with lock.holding(data):  # as `python -m bot` does for as long as it runs
        with pytest.raises(RestoreRefusedError, match="a bot process is running on"):
            restore(copy, live, known_versions(), data_dir=data)
    assert list(data.glob("*.before-restore-*")) == []


async def test_restore_is_refused_while_another_connection_has_the_database_open(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    live = data / "emo-bot.sqlite3"
    await _bot_database(live)
    copy = tmp_path / "copy.sqlite3"
    backup(live, copy, busy_timeout=10)
    db = await SqliteDatabase.open(live)  # idle, as `migrate` or an older bot would be
    try:
        assert await MetaStore(db).get("marker") == "before"
        with pytest.raises(RestoreRefusedError, match="SQLite's lock is taken"):
            restore(copy, live, known_versions(), data_dir=data)
        assert await MetaStore(db).get("marker") == "before"
    finally:
        await db.close()


async def test_restore_replaces_the_database_keeps_the_old_one_and_the_bot_opens_it(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    live = data / "emo-bot.sqlite3"
    await _bot_database(live)
    copy = tmp_path / "copy.sqlite3"
    backup(live, copy, busy_timeout=10)
    db = await SqliteDatabase.open(live)
    await MetaStore(db).set("marker", "after")  # written after the backup: lost by the restore
    await db.close()

    report = restore(copy, live, known_versions(), data_dir=data)
    assert report.restored.versions == known_versions()
    assert _value(live, "marker") == "before"
    assert report.kept is not None
    assert report.kept.parent == data
    assert _value(report.kept, "marker") == "after"  # what it replaced is kept beside it
    assert sorted(p.name for p in data.iterdir()) == sorted(
        ["emo-bot.lock", "emo-bot.sqlite3", report.kept.name]
    )  # no stale -wal or -shm left to be replayed over the restored pages

    db = await SqliteDatabase.open(live)  # the bot's own way: WAL again, migrations up to date
    try:
        assert await migrate(db, SCHEMAS) == known_versions()
        assert await MetaStore(db).get("marker") == "before"
        journal = await db.fetch_one("PRAGMA journal_mode")
        assert journal is not None
        assert next(iter(journal.values())) == "wal"
    finally:
        await db.close()


async def test_restore_into_an_empty_data_directory(tmp_path: Path) -> None:
    live = tmp_path / "old" / "emo-bot.sqlite3"
    await _bot_database(live)
    copy = tmp_path / "copy.sqlite3"
    backup(live, copy, busy_timeout=10)
    fresh = tmp_path / "new-machine" / "data"
    report = restore(copy, fresh / "emo-bot.sqlite3", known_versions(), data_dir=fresh)
    assert report.kept is None
    assert _value(fresh / "emo-bot.sqlite3", "marker") == "before"


async def test_a_starting_bot_waits_while_a_restore_holds_the_directory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.db.lock")
    entered = asyncio.Event()

    async def start() -> None:
        async with lock.holding(tmp_path):
            entered.set()

    with lock.alone(tmp_path):
        task = asyncio.create_task(start())
        await asyncio.sleep(1.2)
        assert not entered.is_set()
        assert "held by a restore: waiting for it to finish" in caplog.text
    await asyncio.wait_for(entered.wait(), 5)
    await task


def _command(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return run_bot_command(tmp_path, *args, timeout=60, **variables)


def test_on_postgresql_backup_and_restore_say_how_instead(tmp_path: Path) -> None:
    url = "postgresql://emo:hunter2-secret@127.0.0.1:5/emo"  # never contacted
    for command, tool in (("backup", "pg_dump --format=custom"), ("restore", "pg_restore")):
        done = _command(tmp_path, command, "emo.dump", EMO_DATABASE_URL=url)
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        assert tool in done.stderr
        assert '"$EMO_DATABASE_URL"' in done.stderr
        assert "hunter2" not in done.stderr
        assert done.stderr.count("\n") == 1
    assert not (tmp_path / "emo.dump").exists()


def test_the_commands_print_one_line_each(tmp_path: Path) -> None:
    assert _command(tmp_path, "migrate").returncode == 0
    done = _command(tmp_path, "backup", "copy.sqlite3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Backed up {tmp_path / 'data' / 'emo-bot.sqlite3'} to ")
    assert re.search(r"integrity ok, schema cards v\d+,", done.stdout), done.stdout
    done = _command(tmp_path, "restore", "copy.sqlite3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Restored copy.sqlite3 into ")
    assert "the database it replaced is kept as" in done.stdout
    done = _command(tmp_path, "restore", "missing.sqlite3")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Restore failed: missing.sqlite3 does not exist or is not a file. Nothing was changed."
    )
