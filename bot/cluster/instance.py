"""What this process is called among the processes sharing a database."""

from __future__ import annotations

import os
import socket

ALONE = "local"


def instance_name(configured: str | None, *, shared: bool) -> str:
    """``configured`` (EMO_INSTANCE_NAME) if set. Otherwise: alone on its SQLite file, always
    the same name, so a restart takes its own jobs back at once; sharing PostgreSQL, a name
    of its host and process, whose leases the others take over once they lapse."""
    if configured:
        return configured
    if not shared:
        return ALONE
    return f"{socket.gethostname()}-{os.getpid()}"
