"""The prober outlives a database error: a paused provider still resumes by itself."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.simulator import Simulator, SimulatorKnobs
from tests.support.engine import EngineHarness, running_engine

KEY = "sk-prober-test"
pytestmark = pytest.mark.timeout(90)
# Longer than SQLite's default wait for a lock (10 s): every write meanwhile fails with
# "database is locked".
LOCK_SECONDS = 11.0


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.02, render_overhead_seconds=0.2)
    simulator = Simulator(knobs=knobs, api_keys={KEY})
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


@contextlib.contextmanager
def another_process_writing(database: Path) -> Iterator[None]:
    """Another process holds the SQLite file's write lock (readers go on)."""
    db = sqlite3.connect(database, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN EXCLUSIVE")
        yield
        db.execute("ROLLBACK")
    finally:
        db.close()


async def _paused(engine: EngineHarness) -> bool:
    return await engine.service.gate.current() is not None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # another process's file lock
async def test_a_locked_database_does_not_end_the_prober(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    simulator.fail_next("submit", 400, "Arrearage", "Your account is in arrears.")
    async with running_engine(
        simulator,
        tmp_path,
        KEY,
        emo_probe_interval_seconds=0.2,
        emo_sqlite_busy_timeout_seconds=0.5,
    ) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(lambda: _paused(engine), within=10)
        with another_process_writing(tmp_path / "emo-bot.sqlite3"):
            await asyncio.sleep(LOCK_SECONDS)  # the prober's writes fail meanwhile
        # The account answers (the Arrearage was one submit's): the prober resumes alone.
        await engine.wait_until(engine.all_final, within=40)
        assert [d.job_id for d in engine.notifier.deliveries] == [job.id]
        assert not await _paused(engine)
    failed = [r for r in caplog.records if r.name == "bot.jobs.prober" and r.exc_info]
    assert failed, "the lock never made a probe fail: the test proves nothing"
    assert "database is locked" in str(failed[0].exc_info[1] if failed[0].exc_info else "")
