"""A database the bot cannot use: one line naming the problem and the cure, exit status 2,
within 5 s, never a traceback or a hang; and a full disk mid-transaction tells its own error.

Every case runs the real ``python -m bot`` (and ``python -m bot migrate``) as a child process
on a real file. The read-only and the full file system are real mounts, made in a private
mount namespace (``unshare -m``) so nothing leaks out of the test: that needs root (CI runs
as root); elsewhere those cases are skipped, saying why.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.commands import REPO, run_bot_command
from tests.support.postgres import free_port

pytestmark = pytest.mark.timeout(180)

WITHIN = 5.0  # seconds from start to exit, the bound (set up included)
HANG = 40.0  # a child still running after this is a hang: killed, and the test fails
DATABASE = "emo-bot.sqlite3"


@functools.cache
def _mounts_unavailable() -> str | None:
    """Why a private mount namespace cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "mounting a read-only or full file system needs root (CI runs as root)"
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "--", "mount", "-t", "tmpfs", "t", "/mnt"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"no private mount namespace here: {probe.stderr.strip()}"
    return None


def needs_mounts() -> pytest.MarkDecorator:
    reason = _mounts_unavailable()
    return pytest.mark.skipif(reason is not None, reason=reason or "")


# In the namespace: $1 is the data directory, the rest the bot's command line.
READ_ONLY = 'set -e; D=$1; shift; mount --bind "$D" "$D"; mount -o remount,bind,ro "$D"; exec "$@"'
# $1 the data directory, $2 the prepared one to copy in; then the disk is filled to the brim.
FULL = (
    'set -e; D=$1; S=$2; shift 2; mount -t tmpfs -o size=2m tmpfs "$D"; cp -a "$S"/. "$D"/;'
    ' head -c 8m /dev/zero > "$D/filler" 2>/dev/null || true; exec "$@"'
)


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def _environment(data_dir: Path) -> dict[str, str]:
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DASHSCOPE_", "EMO_"))
    }
    return {
        **inherited,
        "PYTHONPATH": str(REPO),
        "DASHSCOPE_API_KEY": "sk-x",
        "DISCORD_TOKEN": "x" * 30,
        # Nothing listens there: a bot that got past its database would retry Discord for
        # minutes, and be killed as a hang.
        "DISCORD_API_BASE_URL": f"http://127.0.0.1:{free_port()}/api",
        "EMO_OPS_BIND": "off",
        "EMO_DATA_DIR": str(data_dir),
    }


def _run(tmp_path: Path, data_dir: Path, command: str, wrapper: list[str]) -> Outcome:
    argv = [*wrapper, sys.executable, "-m", "bot", command]
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv,
            cwd=tmp_path,
            env=_environment(data_dir),
            capture_output=True,
            text=True,
            timeout=HANG,
            check=False,
        )
    except subprocess.TimeoutExpired as hung:
        output = (hung.stderr or b"")[-3000:]
        pytest.fail(f"`python -m bot {command}` still ran after {HANG} s: {output!r}")
    return Outcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def _assert_one_line(outcome: Outcome, *phrases: str) -> str:
    said = f"status {outcome.returncode} after {outcome.seconds:.2f} s:\n{outcome.stderr}"
    assert outcome.returncode == 2, said
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, said
    (line,) = lines
    assert line.startswith("Database error: "), said
    for phrase in phrases:
        assert phrase in line, said
    assert "Traceback" not in outcome.stderr
    assert outcome.stdout == ""
    assert outcome.seconds < WITHIN, said
    return line


def _migrated(tmp_path: Path, name: str = "data") -> Path:
    """A data directory holding a database as this bot leaves it."""
    data_dir = tmp_path / name
    done = run_bot_command(tmp_path, "migrate", EMO_DATA_DIR=str(data_dir))
    assert done.returncode == 0, done.stderr
    return data_dir


def _sql(path: Path, statement: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(statement)
    db.close()


COMMANDS = pytest.mark.parametrize("command", ["run", "migrate"])


@COMMANDS
def test_a_file_that_is_not_a_database(tmp_path: Path, command: str) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / DATABASE).write_bytes(os.urandom(64 * 1024))
    outcome = _run(tmp_path, data_dir, command, [])
    _assert_one_line(
        outcome, f"the database {data_dir / DATABASE} is damaged", "python -m bot restore FILE"
    )


@COMMANDS
def test_a_truncated_database(tmp_path: Path, command: str) -> None:
    data_dir = _migrated(tmp_path)
    path = data_dir / DATABASE
    os.truncate(path, path.stat().st_size // 2)
    outcome = _run(tmp_path, data_dir, command, [])
    _assert_one_line(outcome, "is damaged (database disk image is malformed)", "restore")


@COMMANDS
@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        (
            "UPDATE schema_versions SET version = 99 WHERE component = 'jobs'",
            "the database's jobs tables are at version 99",
        ),
        ("PRAGMA user_version = 99", "(PRAGMA user_version) is 99"),
        (
            "INSERT INTO schema_versions (component, version) VALUES ('billing', 2)",
            "billing tables at version 2, this bot has no such tables",
        ),
    ],
    ids=["component-version", "user-version", "unknown-component"],
)
def test_a_database_from_a_newer_bot(
    tmp_path: Path, command: str, change: str, phrase: str
) -> None:
    data_dir = _migrated(tmp_path)
    _sql(data_dir / DATABASE, change)
    before = (data_dir / DATABASE).read_bytes()
    outcome = _run(tmp_path, data_dir, command, [])
    _assert_one_line(outcome, phrase, "run the newer bot, or restore a backup")
    assert (data_dir / DATABASE).read_bytes() == before  # refused, not half-migrated


@needs_mounts()
@COMMANDS
def test_an_existing_database_on_a_read_only_file_system(tmp_path: Path, command: str) -> None:
    data_dir = _migrated(tmp_path)
    wrapper = ["unshare", "-m", "--propagation", "private", "--", "sh", "-c", READ_ONLY, "sh"]
    outcome = _run(tmp_path, data_dir, command, [*wrapper, str(data_dir)])
    line = _assert_one_line(outcome, "is on a read-only file system", "EMO_DATA_DIR writable")
    # `run` meets it at the data directory's lock, `migrate` at the database file.
    assert line.startswith(f"Database error: {data_dir}"), line


@needs_mounts()
@COMMANDS
@pytest.mark.parametrize("existing", [True, False], ids=["existing", "new"])
def test_a_full_disk_at_start(tmp_path: Path, command: str, existing: bool) -> None:
    source = _migrated(tmp_path, "prepared") if existing else tmp_path / "empty"
    source.mkdir(exist_ok=True)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    wrapper = ["unshare", "-m", "--propagation", "private", "--", "sh", "-c", FULL, "sh"]
    outcome = _run(tmp_path, data_dir, command, [*wrapper, str(data_dir), str(source)])
    _assert_one_line(
        outcome, f"the disk holding {data_dir / DATABASE} is full", "free some space on it"
    )


# A child process on a 1 MiB file system: a transaction that outgrows the disk, then the
# same database once the space is freed.
MID_TRANSACTION = """
import asyncio, json, os, sqlite3, sys
from pathlib import Path
from bot.db.sqlite import SqliteDatabase

async def main(folder):
    db = await SqliteDatabase.open(folder / "emo-bot.sqlite3")
    await db.execute("CREATE TABLE t (x BLOB)")
    filler = folder / "filler"
    with filler.open("wb") as out:  # every free block, then a little back for the WAL
        try:
            while True:
                out.write(bytes(64 * 1024))
                out.flush()
        except OSError:
            pass
    seen = {}
    try:
        async with db.transaction() as tx:
            for _ in range(40):
                await tx.execute("INSERT INTO t VALUES (?)", (bytes(50_000),))
        seen["error"] = None
    except sqlite3.Error as error:
        seen["error"] = [type(error).__name__, str(error), error.sqlite_errorname]
    filler.unlink()
    await db.execute("INSERT INTO t VALUES (x'00')")
    seen["rows_after"] = (await db.fetch_one("SELECT count(*) AS n FROM t"))["n"]
    await db.close()
    print(json.dumps(seen))

asyncio.run(main(Path(sys.argv[1])))
"""


@needs_mounts()
def test_a_full_disk_mid_transaction_raises_its_own_error(tmp_path: Path) -> None:
    """SQLite ends a transaction the disk could not hold; a ROLLBACK after it would fail with
    "cannot rollback" and hide why. The real error comes out, and the next write works."""
    folder = tmp_path / "small"
    folder.mkdir()
    script = 'set -e; D=$1; shift; mount -t tmpfs -o size=1m tmpfs "$D"; exec "$@"'
    argv = ["unshare", "-m", "--propagation", "private", "--", "sh", "-c", script, "sh"]
    done = subprocess.run(
        [*argv, str(folder), sys.executable, "-c", MID_TRANSACTION, str(folder)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["error"] == ["OperationalError", "database or disk is full", "SQLITE_FULL"]
    assert seen["rows_after"] == 1  # the failed transaction left nothing, and nothing stuck
