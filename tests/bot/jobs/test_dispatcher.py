"""The dispatcher checks a job before it writes SUBMITTING: no row is left there by a
failed check (it would wait for a restart)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.jobs.states import JobState
from bot.messages import MessageKey
from bot.simulator import Simulator, SimulatorKnobs
from tests.support.engine import running_engine

KEY = "sk-dispatcher-test"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.02, render_overhead_seconds=0.2)
    simulator = Simulator(knobs=knobs, api_keys={KEY})
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


async def test_a_job_queued_without_its_inputs_fails_without_reaching_submitting(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path, KEY) as engine:
        broken = await engine.enqueue_unprepared(guild_id=1, user_id=1)
        fine = await engine.enqueue_prepared(guild_id=2, user_id=2)
        await engine.wait_until(engine.all_final, within=20)
        broken_row = await engine.core.jobs.get(broken.id)
        assert broken_row.state is JobState.FAILED
        assert broken_row.error_key == MessageKey.UNEXPECTED.value
        assert JobState.SUBMITTING not in await engine.history(broken.id)
        assert [failed for failed, _ in engine.notifier.failures] == [broken.id]
        assert (await engine.core.jobs.get(fine.id)).state is JobState.DELIVERED
    assert len(simulator.submissions) == 1
