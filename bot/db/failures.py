"""Why the SQLite database cannot be used at start, in one line that says what to do.

SQLite's own words ("disk I/O error", "unable to open database file") leave the operator
guessing, so the file system is asked too: is it mounted read-only, is it full, may this user
write there? A damaged file is told by SQLite's error code. ``python -m bot`` prints the line
and exits with status 2, so a supervisor does not restart it into the same wall.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

from bot.db.database import DatabaseStartError

MIN_FREE_BYTES = 1 << 20
"""Less free space than this on the data directory's disk at start is a full disk: the bot
could neither download a member's files nor record their jobs."""


class Problem(StrEnum):
    READ_ONLY = "read-only"  # the file system is mounted read-only
    NOT_WRITABLE = "not-writable"  # this user may not write there
    DISK_FULL = "disk-full"
    DAMAGED = "damaged"  # not a database, or a damaged one
    UNUSABLE = "unusable"  # anything else: SQLite's words are passed on


class StorageError(DatabaseStartError):
    """The data directory or its database cannot be used: ``problem`` says which way."""

    def __init__(self, problem: Problem, path: Path, detail: str) -> None:
        super().__init__(_line(problem, path, detail))
        self.problem = problem
        self.path = path
        self.detail = detail


def _line(problem: Problem, path: Path, detail: str) -> str:
    match problem:
        case Problem.READ_ONLY:
            return (
                f"{path} is on a read-only file system: make EMO_DATA_DIR writable (or point "
                "it at a writable volume), then start the bot again"
            )
        case Problem.NOT_WRITABLE:
            return (
                f"{path} cannot be written by this user ({detail}): give the bot's user "
                "write access to EMO_DATA_DIR and the files in it, then start the bot again"
            )
        case Problem.DISK_FULL:
            return (
                f"the disk holding {path} is full ({detail}): free some space on it, then "
                "start the bot again"
            )
        case Problem.DAMAGED:
            return (
                f"the database {path} is damaged ({detail}): restore a backup with "
                "`python -m bot restore FILE`, or move the file away to start with an empty "
                "database"
            )
        case _:
            return f"cannot use {path} ({detail}): check EMO_DATA_DIR and the disk under it"


def _megabytes(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB free"


def storage_problem(path: Path) -> StorageError | None:
    """What the file system says of ``path`` (a database file, or a folder): read-only,
    full, or not writable by this user; None when it looks usable."""
    folder = path if path.is_dir() else path.parent
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None  # missing: creating it will tell
    if stats.f_flag & os.ST_RDONLY:
        return StorageError(Problem.READ_ONLY, path, f"{folder} is mounted read-only")
    free = stats.f_bavail * stats.f_frsize
    if free < MIN_FREE_BYTES:
        return StorageError(Problem.DISK_FULL, path, _megabytes(free))
    for target in (folder, path):
        if target.exists() and not os.access(target, os.W_OK):
            return StorageError(Problem.NOT_WRITABLE, path, f"no write permission on {target}")
    return None


def check_storage(path: Path) -> None:
    """Before opening ``path``: refuse a read-only, full or forbidden disk at once. SQLite
    would say only "disk I/O error", or open the file and fail at its first write."""
    problem = storage_problem(path)
    if problem is not None:
        raise problem


def diagnose(path: Path, error: BaseException) -> StorageError | None:
    """What ``error``, met opening or migrating the database ``path``, means; None when it
    is not about the file or its disk."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", 0) & 0xFF  # the primary code
        if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return StorageError(Problem.DAMAGED, path, str(error))
        if code == sqlite3.SQLITE_FULL:
            return StorageError(Problem.DISK_FULL, path, str(error))
        found = storage_problem(path)
        if found is not None:
            return found
        if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
            return StorageError(Problem.NOT_WRITABLE, path, str(error))
        if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR):
            return StorageError(Problem.UNUSABLE, path, str(error))
        return None  # a query's own error: not the file's
    if isinstance(error, OSError):
        found = storage_problem(path)
        if found is not None:
            return found
        detail = error.strerror or str(error)
        if error.errno == errno.EROFS:
            return StorageError(Problem.READ_ONLY, path, detail)
        if error.errno in (errno.EACCES, errno.EPERM):
            return StorageError(Problem.NOT_WRITABLE, path, detail)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return StorageError(Problem.DISK_FULL, path, detail)
        return StorageError(Problem.UNUSABLE, path, detail)
    return None


@contextlib.contextmanager
def diagnosed(path: Path | None) -> Iterator[None]:
    """Inside, a failure that is about the SQLite database ``path`` or its disk becomes a
    StorageError; None (PostgreSQL): nothing is changed."""
    try:
        yield
    except (sqlite3.Error, OSError) as error:
        found = None if path is None else diagnose(path, error)
        if found is None:
            raise
        raise found from error
