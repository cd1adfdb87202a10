"""A task that FAILED on the provider's own side is submitted once more (it was not
billed) before the member hears of it; one that failed because of its input is not."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.jobs.states import JobState
from bot.messages import MessageKey
from bot.simulator import Simulator, SimulatorKnobs
from tests.support.engine import EngineHarness, running_engine

KEY = "sk-failures-test"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.02, render_overhead_seconds=0.2)
    simulator = Simulator(knobs=knobs, api_keys={KEY})
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


async def test_a_provider_side_failure_is_retried_once_and_billed_once(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.fail_next_task("InternalError.Algo", "Simulated algorithm failure.")
    async with running_engine(simulator, tmp_path, KEY) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(engine.all_final, within=30)
        row = await engine.jobs.get(job.id)
        known = await engine.jobs.known_task_ids()
        history = await engine.history(job.id)
    first, second = (s.task_id for s in simulator.submissions)
    assert simulator.tasks[first].status == "FAILED"
    assert row.state is JobState.DELIVERED
    assert (row.task_id, row.retried_task_id) == (second, first)
    assert {first, second} <= known  # the failed task is still ours: never adopted later
    assert history.count(JobState.QUEUED) == 2
    assert engine.notifier.failures == []  # the member never heard of the first failure
    assert [d.job_id for d in engine.notifier.deliveries] == [job.id]
    billed = simulator.billed_seconds(simulator.account_id(KEY))
    assert billed == pytest.approx(simulator.tasks[second].video_duration or 0)


async def test_a_second_provider_side_failure_ends_the_job(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.fail_next_task("InternalError.Timeout", "Rendering timed out.", times=2)
    async with running_engine(simulator, tmp_path, KEY) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(engine.all_final, within=30)
        await engine.wait_until(_told(engine), within=5)
        row = await engine.jobs.get(job.id)
    assert row.state is JobState.FAILED
    assert row.error_key == MessageKey.RENDER_FAILED.value
    assert len(simulator.submissions) == 2  # once more, and no more


async def test_a_failure_caused_by_the_input_is_not_retried(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.fail_next_task("InvalidParameter.Audio", "The audio could not be read.")
    async with running_engine(simulator, tmp_path, KEY) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(engine.all_final, within=30)
        await engine.wait_until(_told(engine), within=5)
        row = await engine.jobs.get(job.id)
    assert row.state is JobState.FAILED
    assert len(simulator.submissions) == 1


def _told(engine: EngineHarness) -> Callable[[], Awaitable[bool]]:
    async def told() -> bool:
        return bool(engine.notifier.failures)

    return told
