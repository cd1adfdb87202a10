"""The data directory's lock file: every running bot holds it, shared; a restore holds it alone.

``flock(2)`` on ``EMO_DATA_DIR/emo-bot.lock``. The kernel drops the lock when its process
ends, however it ends (SIGKILL included), so it never goes stale and needs no clean-up.
Several bot processes may share one data directory (PostgreSQL plus a shared media volume):
their shared locks coexist, and any one of them keeps a restore out.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from bot.db.failures import diagnose
from bot.db.files import FILE_MODE, private_folder

log = logging.getLogger(__name__)

LOCK_FILE = "emo-bot.lock"
_WAIT_STEP = 0.5  # seconds between looks while a restore holds the directory


class DataDirBusyError(RuntimeError):
    """A bot process holds the data directory."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"a bot process holds {path}")
        self.path = path


def lock_path(data_dir: Path) -> Path:
    return data_dir / LOCK_FILE


def _open(data_dir: Path) -> int:
    private_folder(data_dir)
    return os.open(lock_path(data_dir), os.O_RDWR | os.O_CREAT, FILE_MODE)


@contextlib.asynccontextmanager
async def holding(data_dir: Path) -> AsyncIterator[None]:
    """Hold the data directory for a running bot: shared with other bot processes; waits
    (cancellably) while a restore has it. A file system without locks only costs the
    restore's check, never the start; a directory that cannot be written (read-only, full,
    forbidden) is a StorageError that says so."""
    try:
        fd = _open(data_dir)
    except OSError as error:
        found = diagnose(data_dir, error)
        if found is None:
            raise
        raise found from error
    try:
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.warning(
                        "%s is held by a restore: waiting for it to finish", lock_path(data_dir)
                    )
                    waited = True
                await asyncio.sleep(_WAIT_STEP)
            except OSError as error:
                log.warning("cannot lock %s (%s): running without it", lock_path(data_dir), error)
                break
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def alone(data_dir: Path) -> Iterator[None]:
    """Hold the data directory alone (a restore); DataDirBusyError while a bot holds it."""
    fd = _open(data_dir)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirBusyError(lock_path(data_dir)) from None
        yield
    finally:
        os.close(fd)
