"""Files the bot creates are its own: 0600, and folders 0700.

The database holds members' ids and signed links; nobody else on the machine needs to read
it. ``python -m bot`` also sets its umask to 077, so every file it writes (media, journals)
is private; these helpers make the database layer's files private whoever calls it.
SQLite gives a database's ``-wal`` and ``-shm`` files the database file's own mode.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: Path) -> None:
    """Create ``path`` (and any missing parents) as 0700; an existing folder is left as is."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)


def private_file(path: Path) -> None:
    """Create ``path`` empty as 0600 unless it exists (SQLite takes an empty file for a new
    database); an existing file keeps its mode."""
    private_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
