"""Files a job needs after intake, with several processes on one database.

What a 🔁 retry starts from (the first job's converted inputs) lives in EMO_DATA_DIR, so
the processes of one deployment share that folder (one volume). Two engines on one
PostgreSQL: with the folder shared, a job taken in by one is retried by the other; with a
folder of its own, the other cannot find the files and says so to the member, before any
money is spent, instead of failing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import UserFacingError
from bot.jobs.states import JobState
from bot.messages import MessageKey
from bot.simulator import Simulator, SimulatorKnobs
from tests.support.engine import running_engine

KEY = "sk-shared-files"

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.parametrize("backend", ["postgres"], indirect=True),
]


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.05, render_overhead_seconds=0.2)
    simulator = Simulator(knobs=knobs, api_keys={KEY})
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


@pytest.mark.parametrize("shared", [True, False], ids=["shared-folder", "own-folder"])
async def test_a_retry_taken_by_another_process_finds_the_files_or_tells_the_member(
    simulator: Simulator, tmp_path: Path, shared: bool
) -> None:
    first_dir = tmp_path / "first"
    second_dir = first_dir if shared else tmp_path / "second"
    async with (
        running_engine(simulator, first_dir, KEY, emo_instance_name="first") as first,
        running_engine(simulator, second_dir, KEY, emo_instance_name="second") as second,
    ):
        job = await first.request(guild_id=1, user_id=7, folder=tmp_path)
        await first.wait_until(first.all_final, within=60)
        assert (await first.jobs.get(job.id)).state is JobState.DELIVERED
        submitted = len(simulator.submissions)

        if shared:
            accepted = await second.service.retry(
                job.id, guild_id=1, actor_id=7, actor_manages_server=False
            )
            await second.wait_until(second.all_final, within=60)
            retried = await second.jobs.get(accepted.job.id)
            assert retried.state is JobState.DELIVERED
            assert retried.retry_of == job.id
            assert len(simulator.submissions) == submitted + 1
        else:
            with pytest.raises(UserFacingError) as refused:
                await second.service.retry(
                    job.id, guild_id=1, actor_id=7, actor_manages_server=False
                )
            assert refused.value.message.key is MessageKey.RETRY_INPUTS_GONE
            assert refused.value.message.params == {"job": job.id}
            assert len(await second.jobs.in_states(list(JobState))) == 1  # no job was made
            assert len(simulator.submissions) == submitted  # nothing was spent
