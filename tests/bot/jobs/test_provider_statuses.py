"""Task statuses as the real service sends them: SUSPENDED is in flight, and a status the
bot does not know is taken as in flight too, never as a malformed answer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.jobs.events import JobEvent
from bot.jobs.states import JobState
from bot.simulator import Simulator, SimulatorKnobs
from tests.support.engine import running_engine

KEY = "sk-statuses-test"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.02, render_overhead_seconds=0.2)
    simulator = Simulator(knobs=knobs, api_keys={KEY})
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


async def test_a_suspended_render_goes_on_shows_as_paused_and_is_delivered_once(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    simulator.update_knobs(suspend_seconds=1.5)
    seen: list[str | None] = []
    async with running_engine(
        simulator, tmp_path, KEY, emo_poll_min_seconds=0.1, emo_poll_max_seconds=0.3
    ) as engine:

        async def provider_status(event: JobEvent) -> None:
            seen.append(event.after.provider_status)

        engine.core.events.subscribe(provider_status)
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(engine.all_final, within=30)
        row = await engine.jobs.get(job.id)
    statuses = [change.status for change in simulator.tasks[row.task_id or ""].history]
    assert "SUSPENDED" in statuses  # the provider really suspended it
    assert row.state is JobState.DELIVERED
    assert [d.job_id for d in engine.notifier.deliveries] == [job.id]
    assert "SUSPENDED" in seen  # the card (and every listener) heard it was suspended
    assert not [r for r in caplog.records if "MalformedAnswer" in r.getMessage()]
    assert len(simulator.submissions) == 1


async def test_a_status_the_bot_does_not_know_is_logged_once_and_waited_out(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    simulator.update_knobs(running_status_alias="WARMING_UP", render_overhead_seconds=1.5)
    caplog.set_level(logging.WARNING, logger="bot.jobs.poller")
    async with running_engine(
        simulator, tmp_path, KEY, emo_poll_min_seconds=0.1, emo_poll_max_seconds=0.3
    ) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(engine.all_final, within=30)
        row = await engine.jobs.get(job.id)
    assert row.state is JobState.DELIVERED
    assert [d.job_id for d in engine.notifier.deliveries] == [job.id]
    told = [r for r in caplog.records if "WARMING_UP" in r.getMessage()]
    assert len(told) == 1  # logged once, though polled several times in that state
    assert simulator.query_count.of(row.task_id or "") > 2
    assert not [r for r in caplog.records if "MalformedAnswer" in r.getMessage()]
