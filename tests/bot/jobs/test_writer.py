"""Every change of a job's row reaches the edge: nothing writes around the writer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.jobs.states import JobState
from bot.simulator import Simulator, SimulatorKnobs
from tests.support.engine import running_engine

KEY = "sk-writer-test"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.02, render_overhead_seconds=0.2)
    simulator = Simulator(knobs=knobs, api_keys={KEY})
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


async def test_the_edge_hears_of_every_state_the_row_went_through(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path, KEY) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(engine.all_final, within=30)
        written = await engine.history(job.id)
        told = [state for job_id, state in engine.notifier.changes if job_id == job.id]
    assert JobState.SUBMITTING in written
    assert written[-1] is JobState.DELIVERED
    # The card (and every other listener) saw each state the row was in, SUBMITTING too.
    after_queue = written[written.index(JobState.QUEUED) :]
    assert told[-len(after_queue) :] == after_queue
