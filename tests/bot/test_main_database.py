"""``python -m bot migrate``, and a database that cannot be reached at start: child processes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.backends import BOTH_BACKENDS
from tests.support.commands import run_bot_command
from tests.support.postgres import PostgresServer, free_port

pytestmark = pytest.mark.timeout(120)


def _bot(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return run_bot_command(tmp_path, *args, timeout=100, **variables)


@BOTH_BACKENDS
def test_migrate_brings_the_tables_up_to_date_and_is_idempotent(
    tmp_path: Path, database_url: str
) -> None:
    for _ in range(2):
        done = _bot(tmp_path, "migrate", EMO_DATABASE_URL=database_url)
        assert done.returncode == 0, done.stderr
        dialect = "postgres" if database_url else "sqlite"
        assert re.match(rf"Database up to date \({dialect}\): cards v\d+,", done.stdout)
        assert "jobs v" in done.stdout


@pytest.mark.parametrize("command", ["run", "migrate"])
def test_an_unreachable_database_is_one_line_and_exit_2(
    tmp_path: Path, postgres_server: PostgresServer, command: str
) -> None:
    # Nothing listens on this port; the password must not be echoed.
    url = f"postgresql://emo:hunter2-secret@127.0.0.1:{free_port()}/emo"
    done = _bot(tmp_path, command, EMO_DATABASE_URL=url, DISCORD_TOKEN="x" * 30, EMO_OPS_BIND="off")
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Database error: cannot reach the database in EMO_DATABASE_URL")
    assert "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
