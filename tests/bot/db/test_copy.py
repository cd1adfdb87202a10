"""``python -m bot copy-db``: a live SQLite install (jobs in flight, settings, cards, erasures)
moved to a real PostgreSQL, read back the same, and carried on there exactly once."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.cards.sql import SqlCardRepository
from bot.clock import as_utc
from bot.core import SCHEMAS
from bot.db.copy import MOVED_KEY, CopyError, copy_database
from bot.db.database import Database
from bot.db.meta import MetaStore
from bot.db.migrations import migrate
from bot.db.postgres import PostgresDatabase
from bot.db.sqlite import SqliteDatabase
from bot.guilds.access import Viewer
from bot.guilds.repository import NewKey
from bot.guilds.settings import SettingName
from bot.guilds.sql import SqlGuildRepository
from bot.guilds.sql_keys import SqlProviderKeyRepository
from bot.guilds.vault import KeyVault
from bot.jobs.models import AnimateRequest, InputRef
from bot.jobs.repository import Caps, Lease, MediaOwner
from bot.jobs.sql import SqlJobRepository
from bot.jobs.states import JobState
from bot.provider.accounts import fingerprint
from bot.simulator import Simulator
from tests.support.engine import EngineHarness, fast_simulator, running_engine
from tests.support.postgres import PostgresServer, free_port

KEY = "sk-copy-test"
REPO = Path(__file__).resolve().parents[3]
POSTGRES = pytest.mark.parametrize("backend", ["postgres"], indirect=True)
pytestmark = pytest.mark.timeout(180)
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00")


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with fast_simulator(KEY) as simulator:
        yield simulator


@dataclass
class Install:
    """A SQLite install left by a stopped bot, with what the test needs to know of it."""

    data: Path
    path: Path
    delivered: int
    in_flight: dict[int, JobState]  # job id -> its state when the bot stopped
    task_ids: dict[int, str]  # the SUBMITTED jobs' tasks at the provider
    submissions: int  # how many tasks the provider had accepted by then


async def _reaches(engine: EngineHarness, job_id: int, state: JobState) -> bool:
    return (await engine.jobs.get(job_id)).state is state


async def _stopped_sqlite_install(simulator: Simulator, tmp_path: Path) -> Install:
    """A bot on SQLite runs jobs through the real core (one delivered, one canceled, settings,
    cards, an erasure), then stops with two tasks at the provider (one rendering, one
    waiting), two jobs queued (one a retry) and one just received, leased by the old process."""
    data, inputs = tmp_path / "data", tmp_path / "inputs"
    inputs.mkdir()
    sqlite = {"emo_database_url": "", "emo_lookahead_window_seconds": 1000.0}
    async with running_engine(simulator, data, KEY, **sqlite) as engine:
        delivered = (await engine.request(guild_id=1, user_id=1, folder=inputs)).id
        await engine.wait_until(engine.all_final, within=30)
        await engine.wait_until(lambda: _known(engine), within=10)
        simulator.update_knobs(render_overhead_seconds=600)  # nothing ends from now on
        running = await engine.enqueue_prepared(guild_id=2, user_id=2)
        await engine.wait_until(lambda: _reaches(engine, running.id, JobState.SUBMITTED))
        pending = await engine.enqueue_prepared(guild_id=3, user_id=3)
        await engine.wait_until(lambda: _reaches(engine, pending.id, JobState.SUBMITTED))
        queued = await engine.enqueue_prepared(guild_id=4, user_id=4)
        retried = await engine.service.retry(
            delivered, guild_id=1, actor_id=7, actor_manages_server=True
        )
        await engine.wait_until(lambda: _reaches(engine, retried.job.id, JobState.QUEUED))
        canceled = await engine.enqueue_prepared(guild_id=5, user_id=5)
        await engine.service.cancel(canceled.id, guild_id=5, actor_id=5, actor_manages_server=False)
        admin = Viewer(guild_id=4, user_id=40, manages_server=True)
        await engine.core.guilds.settings.update(admin, {"queue_cap": 15, "dm_delivery": False})
        await engine.core.guilds.settings.reset(admin, [SettingName.QUEUE_CAP])
        await engine.core.guilds.settings.update(admin, {"monthly_budget_usd": 12.5})
        await engine.core.cards.shown(running.id, message_id=9001, state=JobState.SUBMITTED)
        await engine.core.cards.shown(delivered, message_id=9002, state=JobState.DELIVERED)
        await engine.core.cards.result(delivered, 9003)
        await engine.core.cards.notice(canceled.id, 9004)
        await engine.core.cards.deleted(canceled.id)
        await engine.core.guilds.retention.forget_member(3)  # waits for the pending job
        assert (await engine.jobs.get(queued.id)).state is JobState.QUEUED
        submissions = len(simulator.submissions)
    path = data / "emo-bot.sqlite3"
    db = await SqliteDatabase.open(path)
    try:
        # Received just before the stop, by a process that leased it for an hour.
        request = AnimateRequest(
            guild_id=6,
            channel_id=60,
            user_id=6,
            image=InputRef(url=(inputs / "face.jpg").as_uri(), declared_size=0),
            audio=InputRef(url=(inputs / "voice.ogg").as_uri(), declared_size=0),
            trim=True,
            deliver_dm=True,
        )
        lease = Lease(owner="local", until=datetime.now(UTC) + timedelta(hours=1))
        received = await SqlJobRepository(db).create(request, Caps(), lease)
        # An erasure done and dropped: the file never hands its id out again.
        guilds = SqlGuildRepository(db)
        await guilds.add_erasure(MediaOwner(guild_id=8), delivered, datetime.now(UTC))
        await guilds.drop_erasure(max(e.id for e in await guilds.erasures()))
        # A server's own key, replaced once: one retired row, one active, both sealed.
        vault = KeyVault(SecretStr("copy-test-operator-secret-0123456789"))
        keys = SqlProviderKeyRepository(db)
        for own in ("sk-own-copy-first-01234", "sk-own-copy-second-0123"):
            sealed = vault.seal(own, 9)
            await keys.replace(NewKey(9, fingerprint(own), sealed, 90, datetime.now(UTC)))
        in_flight = {
            running.id: JobState.SUBMITTED,
            pending.id: JobState.SUBMITTED,
            queued.id: JobState.QUEUED,
            retried.job.id: JobState.QUEUED,
            received.id: JobState.RECEIVED,
        }
        jobs = SqlJobRepository(db)
        states = {job_id: (await jobs.get(job_id)).state for job_id in in_flight}
        assert states == in_flight
        assert (await jobs.get(canceled.id)).state is JobState.CANCELED
        task_ids = {j: (await jobs.get(j)).task_id or "" for j in (running.id, pending.id)}
    finally:
        await db.close()
    assert [simulator.tasks[task].status for task in task_ids.values()] == ["RUNNING", "PENDING"]
    return Install(data, path, delivered, in_flight, task_ids, submissions)


async def _known(engine: EngineHarness) -> bool:
    return await engine.core.engine.identity.current() is not None


async def _tables(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but the migrations' own, as plain comparable values."""
    if db.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
    else:
        sql = "SELECT table_name AS name FROM information_schema.tables"
        sql += " WHERE table_schema = current_schema()"
    names = sorted(str(row["name"]) for row in await db.fetch_all(sql))
    tables = {}
    for name in names:
        if name != "schema_versions":
            rows = [_plain(row) for row in await db.fetch_all(f"SELECT * FROM {name}")]
            tables[name] = sorted(rows, key=lambda row: repr(sorted(row.items())))
    return tables


def _plain(row: Any) -> dict[str, Any]:
    """A row as the repositories read it: moments as aware UTC, booleans as 0/1."""
    plain = {}
    for column, value in dict(row).items():
        if isinstance(value, datetime) or (isinstance(value, str) and TIMESTAMP.fullmatch(value)):
            value = as_utc(value)
        plain[column] = int(value) if isinstance(value, bool) else value
    return plain


async def _sqlite(path: Path) -> Database:
    db = await SqliteDatabase.open(path)
    await migrate(db, SCHEMAS)
    return db


@POSTGRES
async def test_every_row_of_a_live_install_reads_back_the_same_on_postgres(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    install = await _stopped_sqlite_install(simulator, tmp_path)
    started = time.monotonic()
    report = await copy_database(install.path, database_url, SCHEMAS, batch_rows=3)
    elapsed = time.monotonic() - started
    print("\n".join(report.lines()), f"(copy: {elapsed:.2f} s)", sep="\n")
    source, target = await _sqlite(install.path), await PostgresDatabase.open(database_url)
    try:
        before, after = await _tables(source), await _tables(target)
        # The file is marked as moved (a bot started on it refuses); the mark stays there.
        (mark,) = [row for row in before["meta"] if row["key"] == MOVED_KEY]
        assert str(mark["value"]).startswith("postgresql://")
        before["meta"] = [row for row in before["meta"] if row["key"] != MOVED_KEY]
        assert set(before) == set(after)
        assert [name for name, rows in before.items() if not rows] == []  # every table
        copied = {t.name: t.rows for t in report.tables}
        assert copied == {n: len(r) if n != "leases" else 0 for n, r in before.items()}
        assert after["leases"] == []  # each process's duties: taken afresh
        leased = [row for row in before["jobs"] if row["lease_owner"] is not None]
        assert len(leased) >= 1
        for row in before["jobs"]:
            row.update(lease_owner=None, lease_until=None)
        before["leases"] = []
        for name in before:
            assert after[name] == before[name], name
        # And through the repositories, as the bot reads them.
        jobs = SqlJobRepository(source), SqlJobRepository(target)
        unleased = {"lease_owner": None, "lease_until": None}
        for job_id in range(1, await jobs[0].last_id() + 1):
            assert await jobs[1].get(job_id) == (await jobs[0].get(job_id)).model_copy(
                update=unleased
            )
            assert await jobs[1].history(job_id) == await jobs[0].history(job_id)
        cards = SqlCardRepository(source), SqlCardRepository(target)
        for job_id in (install.delivered, *install.in_flight):
            assert await cards[1].get(job_id) == await cards[0].get(job_id)
        guilds = SqlGuildRepository(source), SqlGuildRepository(target)
        assert await guilds[1].overrides(4) == await guilds[0].overrides(4) != {}
        assert await guilds[1].history(4, 10) == await guilds[0].history(4, 10)
        assert await guilds[1].erasures() == await guilds[0].erasures() != []
        for key in ("api_key_id", "provider_pause", "nothing"):
            assert await MetaStore(target).get(key) == await MetaStore(source).get(key)
    finally:
        await source.close()
        await target.close()


@POSTGRES
async def test_postgres_carries_on_with_the_jobs_in_flight_exactly_once(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    install = await _stopped_sqlite_install(simulator, tmp_path)
    await copy_database(install.path, database_url, SCHEMAS)
    earlier = list(simulator.submissions)
    simulator.update_knobs(render_overhead_seconds=0.3)
    started = time.monotonic()
    async with running_engine(simulator, install.data, KEY, emo_database_url=database_url) as pg:
        await pg.wait_until(pg.all_final, within=60)
        took = time.monotonic() - started
        rows = {job_id: await pg.jobs.get(job_id) for job_id in install.in_flight}
        assert {job_id: row.state for job_id, row in rows.items()} == dict.fromkeys(
            install.in_flight, JobState.DELIVERED
        )
        delivered = sorted(d.job_id for d in pg.notifier.deliveries)
        assert delivered == sorted(install.in_flight)  # each once; the old one not again
        # The tasks at the provider were polled, never submitted again: only the jobs that
        # had not reached the provider were submitted, once each.
        assert simulator.submissions[: len(earlier)] == earlier
        assert len(earlier) == install.submissions
        fresh = [s.task_id for s in simulator.submissions[len(earlier) :]]
        assert len(fresh) == sum(s is not JobState.SUBMITTED for s in install.in_flight.values())
        for job_id, task_id in install.task_ids.items():
            assert rows[job_id].task_id == task_id
            assert task_id not in fresh
        # New rows get ids past every copied one (and past every id the file handed out).
        new = await pg.enqueue_prepared(guild_id=9, user_id=9)
        assert new.id == max(install.in_flight) + 1
        guilds = SqlGuildRepository(pg.core.db)
        await guilds.add_erasure(MediaOwner(user_id=9), new.id, datetime.now(UTC))
        assert max(e.id for e in await guilds.erasures()) == 3  # 2 was used, then dropped
        admin = Viewer(guild_id=4, user_id=40, manages_server=True)
        await pg.core.guilds.settings.update(admin, {"queue_cap": 7})
        assert (await pg.core.guilds.settings.get(4)).queue_cap == 7
        await pg.wait_until(pg.all_final, within=30)
    print(f"in-flight jobs delivered on PostgreSQL {took:.1f} s after its start")


async def _snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    db = await PostgresDatabase.open(url)
    try:
        tables = await _tables(db)
        versions = await db.fetch_all("SELECT * FROM schema_versions")
        tables["schema_versions"] = [dict(row) for row in versions]
        return tables
    finally:
        await db.close()


def _bot(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DASHSCOPE_", "EMO_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


async def _small_install(path: Path) -> None:
    db = await _sqlite(path)
    try:
        request = AnimateRequest(
            guild_id=1,
            channel_id=10,
            user_id=1,
            image=InputRef(url="https://cdn.example/f.png", declared_size=1),
            audio=InputRef(url="https://cdn.example/v.ogg", declared_size=1),
        )
        await SqlJobRepository(db).create(request, Caps())
    finally:
        await db.close()


@POSTGRES
async def test_a_target_that_holds_rows_is_refused_and_left_as_it_was(
    tmp_path: Path, database_url: str
) -> None:
    path = tmp_path / "emo-bot.sqlite3"
    await _small_install(path)
    done = _bot(tmp_path, "copy-db", str(path), database_url)
    assert done.returncode == 0, done.stderr
    assert "jobs: 1 rows" in done.stdout
    before = await _snapshot(database_url)
    again = _bot(tmp_path, "copy-db", str(path), database_url)
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr.strip().splitlines() == [
        "copy-db: PostgreSQL already holds rows (job_events, jobs): copy into a new, empty"
        " database (two installs are never merged)"
    ]
    assert await _snapshot(database_url) == before


@POSTGRES
async def test_a_bot_started_on_the_moved_file_refuses_in_one_line(
    tmp_path: Path, database_url: str
) -> None:
    """The file keeps its rows after the copy; a bot started on it again would submit and
    post its jobs in flight a second time, so it refuses to start."""
    data = tmp_path / "data"
    data.mkdir()
    path = data / "emo-bot.sqlite3"
    await _small_install(path)
    assert _bot(tmp_path, "copy-db", str(path), database_url).returncode == 0
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DASHSCOPE_", "EMO_"))
    }
    started = subprocess.run(  # noqa: ASYNC221 (the test waits for the bot on purpose)
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={
            **environment,
            "PYTHONPATH": str(REPO),
            "DISCORD_TOKEN": "token",
            "EMO_PROVIDER": "simulator",
            "EMO_DATA_DIR": str(data),
            "EMO_OPS_BIND": "off",
        },
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert started.returncode == 2
    line = started.stderr.strip().splitlines()[-1]
    assert line.startswith("Database error: this SQLite database was moved to PostgreSQL (")
    assert "set EMO_DATABASE_URL" in line
    assert "Traceback" not in started.stdout + started.stderr


@POSTGRES
@pytest.mark.parametrize("idle", [False, True])
async def test_a_file_a_running_bot_holds_is_refused(
    tmp_path: Path, database_url: str, idle: bool
) -> None:
    path = tmp_path / "emo-bot.sqlite3"
    await _small_install(path)
    bot = await SqliteDatabase.open(path)  # a bot on the file: writing, or just open
    try:
        async with contextlib.AsyncExitStack() as stack:
            if not idle:
                tx = await stack.enter_async_context(bot.transaction())
                await tx.execute("UPDATE jobs SET attempt = attempt + 1")
            with pytest.raises(CopyError) as refused:
                await copy_database(path, database_url, SCHEMAS, busy_timeout=0.2)
    finally:
        await bot.close()
    assert str(refused.value) == f"{path} is in use by another process: stop the bot first"
    assert (await _snapshot_tables(database_url)) == []  # PostgreSQL never touched
    await copy_database(path, database_url, SCHEMAS)  # once the bot stopped: copied


async def _snapshot_tables(url: str) -> list[str]:
    db = await PostgresDatabase.open(url)
    try:
        rows = await db.fetch_all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        return [str(row["table_name"]) for row in rows]
    finally:
        await db.close()


@pytest.mark.parametrize("case", ["missing", "not-sqlite", "not-the-bot", "unreachable"])
async def test_the_command_says_what_is_wrong_in_one_line(
    tmp_path: Path, postgres_server: PostgresServer, case: str
) -> None:
    path = tmp_path / "emo-bot.sqlite3"
    url = postgres_server.create_database().replace("postgres@", "postgres:hunter2-secret@")
    if case == "not-sqlite":
        path.write_text("hello")
    elif case == "not-the-bot":
        db = await SqliteDatabase.open(path)
        await db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
        await db.close()
    elif case == "unreachable":
        await _small_install(path)
        url = f"postgresql://emo:hunter2-secret@127.0.0.1:{free_port()}/emo"
    done = _bot(tmp_path, "copy-db", str(path), url)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert done.returncode == (2 if case == "unreachable" else 1)
    assert "Traceback" not in done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    expected = {
        "missing": f"copy-db: {path}: no such file",
        "not-sqlite": f"copy-db: {path} is not an emo-bot database (not SQLite)",
        "not-the-bot": f"copy-db: {path} is not an emo-bot database (it has no bot tables)",
        "unreachable": "copy-db: cannot reach PostgreSQL at postgresql://emo@127.0.0.1:",
    }[case]
    assert lines[0].startswith(expected), lines[0]
    assert not path.exists() if case == "missing" else True
