"""Backups of the SQLite database, made and restored through SQLite's online backup API.

A backup copies the live database in one step of ``sqlite3_backup``: one read transaction,
so the copy is one consistent moment that holds every row committed before it began, and
the bot goes on writing meanwhile (WAL). The copy is written beside its target, switched to
a self-contained rollback journal, checked (``PRAGMA integrity_check``, the schema
versions), made durable and only then renamed into place: a failed backup never replaces
a good one.

A restore checks the copy the same way, refuses a copy from a newer bot, and writes it into
the live database through the same API while holding it alone: the data directory's lock
file (no bot process may run, ``bot/db/lock.py``) and SQLite's own exclusive lock (no other
connection is open). The database it replaces is kept beside it.

Like the rest of ``bot.db``, this knows no table: the caller names the schema versions it
knows.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.db import lock
from bot.db.files import private_file

OPEN_TIMEOUT = 1.0  # seconds a restore waits for the live database's lock before refusing


class BackupError(Exception):
    """A backup or restore could not be done; the message is one line for the operator.
    ``changed``: the live database was written to before the failure (a restore)."""

    def __init__(self, message: str, *, changed: bool = False) -> None:
        super().__init__(message)
        self.changed = changed


class RestoreRefusedError(BackupError):
    """Something still uses the live database: a bot process, or another connection."""


@dataclass(frozen=True)
class CopyReport:
    """What a database file holds, once checked."""

    path: Path
    size: int  # bytes
    versions: dict[str, int]  # component -> schema version
    rows: dict[str, int]  # table -> rows

    def describe(self) -> str:
        megabytes = self.size / 1_000_000
        versions = ", ".join(f"{name} v{n}" for name, n in sorted(self.versions.items()))
        total = sum(self.rows.values())
        return (
            f"{megabytes:.1f} MB, {total} rows in {len(self.rows)} tables, integrity ok, "
            f"schema {versions or 'legacy'}"
        )


@contextlib.contextmanager
def _connection(
    target: str | Path, *, uri: bool = False, timeout: float = 5.0
) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(target, uri=uri, timeout=timeout, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check(connection: sqlite3.Connection, path: Path, known: Mapping[str, int]) -> CopyReport:
    """Integrity first, then that it is a bot database this bot can run on."""
    try:
        problems = [str(row[0]) for row in connection.execute("PRAGMA integrity_check(5)")]
    except sqlite3.DatabaseError as error:  # not a database at all, or a damaged header
        raise BackupError(f"{path} is not a usable SQLite database ({error})") from None
    if problems != ["ok"]:
        raise BackupError(f"{path} failed SQLite's integrity check: {'; '.join(problems)}")
    tables = [
        str(row[0])
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
    ]
    versions: dict[str, int] = {}
    if "schema_versions" in tables:
        versions = {
            str(component): int(version)
            for component, version in connection.execute(
                "SELECT component, version FROM schema_versions"
            )
        }
    else:
        # A database from before per-package migrations carries its version here; the bot
        # converts it at start (bot/db/legacy.py).
        (legacy,) = connection.execute("PRAGMA user_version").fetchone()
        if not legacy:
            raise BackupError(f"{path} is not an emo-bot database (no schema_versions table)")
    for component, version in sorted(versions.items()):
        if known and component not in known:
            raise BackupError(
                f"{path} was written by a newer bot: it has {component} tables (version "
                f"{version}), which this bot does not know; restore it with that version"
            )
        if component in known and version > known[component]:
            raise BackupError(
                f"{path} was written by a newer bot: its {component} tables are at version "
                f"{version}, this bot knows {known[component]}; restore it with that version"
            )
    if known and versions:
        (mark,) = connection.execute("PRAGMA user_version").fetchone()
        if mark:  # the bot keeps it at 0 once on per-package versions
            raise BackupError(
                f"{path} was written by a newer bot: its schema version (PRAGMA "
                f"user_version) is {mark}; restore it with that version"
            )
    rows = {
        name: int(connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
        for name in tables
    }
    return CopyReport(path=path, size=path.stat().st_size, versions=versions, rows=rows)


def inspect(copy: Path, known: Mapping[str, int]) -> CopyReport:
    """Check a backup without changing it: readable, intact, and not from a newer bot."""
    if not copy.is_file():
        raise BackupError(f"{copy} does not exist or is not a file")
    with _connection(f"file:{copy}?mode=ro", uri=True) as connection:
        return _check(connection, copy, known)


def backup(live: Path, target: Path, *, busy_timeout: float) -> CopyReport:
    """Copy the live database to ``target`` (replacing it only once the copy is checked)."""
    if not live.is_file():
        raise BackupError(f"there is no database at {live}: nothing to back up (EMO_DATA_DIR?)")
    if target.is_dir():
        raise BackupError(f"{target} is a directory: name the backup file")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} does not exist")
    journals = {live.name, *(f"{live.name}-{suffix}" for suffix in ("wal", "shm", "journal"))}
    beside = target.parent.resolve() == live.parent.resolve()
    if (target.exists() and _same_file(target, live)) or (beside and target.name in journals):
        raise BackupError(f"{target} is the live database (or its journal): choose another file")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        private_file(partial)  # 0600 from the start: it holds every row
        # mode=rw: never create an empty database where the live one should be.
        with (
            _connection(f"file:{live}?mode=rw", uri=True, timeout=busy_timeout) as source,
            _connection(partial) as copy,
        ):
            source.backup(copy)  # one step: one read transaction, one consistent moment
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            report = _check(copy, partial, known={})  # any version: it is what runs
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    except (sqlite3.Error, OSError) as error:
        raise BackupError(f"the backup of {live} failed: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
    return CopyReport(path=target, size=report.size, versions=report.versions, rows=report.rows)


@dataclass(frozen=True)
class RestoreReport:
    restored: CopyReport
    kept: Path | None  # the database it replaced, if there was one


def restore(copy: Path, live: Path, known: Mapping[str, int], *, data_dir: Path) -> RestoreReport:
    """Replace the live database with ``copy``, once it passed the checks, while no bot
    process holds ``data_dir`` and no connection has the database open."""
    if live.exists() and _same_file(copy, live):
        raise BackupError(f"{copy} is the live database itself")
    checked = inspect(copy, known)
    try:
        with lock.alone(data_dir):
            return _restore_alone(copy, live, checked)
    except lock.DataDirBusyError as error:
        raise RestoreRefusedError(
            f"a bot process is running on {data_dir} (it holds {error.path}): stop it first"
        ) from None


def _restore_alone(copy: Path, live: Path, checked: CopyReport) -> RestoreReport:
    existed = live.exists()
    kept: Path | None = None
    try:
        private_file(live)
        with _connection(live, timeout=OPEN_TIMEOUT) as target:
            # Exclusive locking mode keeps every lock taken until the connection closes; the
            # switch out of WAL needs the database alone, and checkpoints what the WAL holds.
            target.execute("PRAGMA locking_mode=EXCLUSIVE")
            try:
                target.execute("PRAGMA journal_mode=DELETE")
                target.execute("BEGIN EXCLUSIVE")
                target.execute("COMMIT")
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                raise RestoreRefusedError(
                    f"another process has {live} open (SQLite's lock is taken): stop it first"
                ) from None
            if existed:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
                kept = live.with_name(f"{live.name}.before-restore-{stamp}")
                private_file(kept)
                with _connection(kept) as aside:
                    target.backup(aside)
                    aside.execute("PRAGMA journal_mode=DELETE")
            with _connection(f"file:{copy}?mode=ro", uri=True) as source:
                source.backup(target)  # one transaction: a failure leaves the old database
            problems = [str(row[0]) for row in target.execute("PRAGMA integrity_check(5)")]
            if problems != ["ok"]:
                raise BackupError(
                    f"the restored database failed its check ({'; '.join(problems)}); the one "
                    f"it replaced is {kept}",
                    changed=True,
                )
    except (sqlite3.Error, OSError) as error:
        raise BackupError(f"the restore into {live} failed: {error}") from None
    return RestoreReport(restored=checked, kept=kept)
