"""Settling a submit cut short by a crash, against task lists shaped as the real service
sends them: capped pages, rows of every key of the account, odd shapes that prove nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import utcnow
from bot.jobs.models import Job, JobChanges
from bot.jobs.states import JobState
from bot.messages import MessageKey
from bot.simulator import Simulator, SimulatorKnobs
from tests.support.engine import EngineHarness, running_engine

KEY = "sk-settlement-ours"
OTHER_KEY = "sk-settlement-another-app"  # another key of the same Alibaba Cloud account
pytestmark = pytest.mark.timeout(120)
SETTINGS = {"emo_http_timeout_seconds": 5.0}  # a cut submit settles 5 + 10 s after its write


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.02, render_overhead_seconds=0.1)
    knobs.rate_limits.submit = 100
    knobs.rate_limits.query = 100
    simulator = Simulator(knobs=knobs, accounts={"shared": [KEY, OTHER_KEY]})
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


async def _cut(engine: EngineHarness, *, created: bool) -> int:
    """A job its process left in SUBMITTING 10 s ago, its task created at the provider or
    not (the id never reached the row). Its lease names this process, which crashed: the
    running engine leaves it alone, and the restart (the same name) settles it at once."""
    await engine.service.gate.pause("Test", "hold the dispatcher")
    job = await engine.enqueue_prepared(guild_id=50, user_id=50)
    held = JobChanges(
        attempt=1, lease_owner=engine.core.instance, lease_until=utcnow() + timedelta(hours=1)
    )
    job = await engine.jobs_as_of(10).transition(job, JobState.SUBMITTING, held)
    if created:
        assert job.image_url
        assert job.audio_url
        assert job.face_box
        assert job.ext_box
        await engine.core.client.submit_synthesis(
            image_url=job.image_url,
            audio_url=job.audio_url,
            face_bbox=job.face_box.as_list(),
            ext_bbox=job.ext_box.as_list(),
            style_level="normal",
        )
    await engine.service.gate.resume("test")
    return job.id


async def _another_apps_task(engine: EngineHarness) -> str:
    """A task of the same account created with another of its keys."""
    inputs = await engine.inputs()
    return await engine.core.client.submit_synthesis(
        image_url=inputs.image_url,
        audio_url=inputs.audio_url,
        face_bbox=inputs.face_box.as_list(),
        ext_bbox=inputs.ext_box.as_list(),
        style_level="normal",
    )


async def _settled(simulator: Simulator, tmp_path: Path, job_id: int) -> tuple[Job, list[int]]:
    """The restart: the cut job's row once everything ended, and whom the bot told."""
    async with running_engine(simulator, tmp_path, KEY, **SETTINGS) as engine:

        async def settled_and_told() -> bool:
            # The notice is published just after the row is written: wait for both.
            if not await engine.all_final():
                return False
            failed = await engine.jobs.in_states([JobState.FAILED])
            told = {job_id for job_id, _ in engine.notifier.failures}
            return all(job.id in told for job in failed)

        await engine.wait_until(settled_and_told, within=60)
        told = [failed for failed, _ in engine.notifier.failures]
        return await engine.jobs.get(job_id), told


async def test_the_cut_task_on_the_second_page_of_ten_is_adopted(
    simulator: Simulator, tmp_path: Path
) -> None:
    """15 tasks of ours in the window, served 10 a page: the cut one, the oldest, is on the
    page a reader that stops at the first short page never reads."""
    async with running_engine(simulator, tmp_path, KEY, **SETTINGS) as first:
        await first.learn_our_key()
        cut = await _cut(first, created=True)
        for n in range(13):
            await first.enqueue_prepared(guild_id=n, user_id=n)
        await first.wait_until(lambda: _all_but_cut_final(first, cut), within=60)
    assert len(simulator.submissions) == 15
    row, _ = await _settled(simulator, tmp_path, cut)
    assert row.state is JobState.DELIVERED
    assert row.task_id == simulator.submissions[1].task_id  # adopted, not submitted again
    assert len(simulator.submissions) == 15
    assert simulator.list_calls >= 2  # both pages were read


async def _all_but_cut_final(engine: EngineHarness, cut: int) -> bool:
    live = [state for state in JobState if not state.is_terminal]
    return [job.id for job in await engine.jobs.in_states(live)] == [cut]


@pytest.mark.parametrize(
    "shape",
    [{"list_rows_key": "tasks"}, {"list_omit_total": True}],
    ids=["rows-under-tasks", "no-total"],
)
async def test_a_task_list_of_another_shape_proves_nothing(
    simulator: Simulator, tmp_path: Path, shape: dict[str, object]
) -> None:
    async with running_engine(simulator, tmp_path, KEY, **SETTINGS) as first:
        await first.learn_our_key()
        cut = await _cut(first, created=True)
    simulator.update_knobs(**shape)
    row, told = await _settled(simulator, tmp_path, cut)
    # Neither queued again (a second charge) nor adopted on an answer that can't be read.
    assert row.state is JobState.FAILED
    assert row.error_key == MessageKey.SUBMIT_UNCERTAIN.value
    assert row.task_id is None
    assert len(simulator.submissions) == 2  # the key's lesson and the cut one: no resubmit
    assert told == [cut]


async def test_another_keys_task_of_the_same_account_is_never_adopted(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path, KEY, **SETTINGS) as first:
        await first.learn_our_key()
        cut = await _cut(first, created=False)  # the crash came before the submit left
    another = tmp_path / "another-app"  # its own database: nothing of ours
    async with running_engine(simulator, another, OTHER_KEY, **SETTINGS) as another_app:
        theirs = await _another_apps_task(another_app)
    row, _ = await _settled(simulator, tmp_path, cut)
    assert row.state is JobState.DELIVERED
    assert row.task_id != theirs  # queued again, and rendered from a task of its own
    ours = [s.task_id for s in simulator.submissions if s.api_key_id == Simulator.api_key_id(KEY)]
    assert row.task_id in ours


async def test_without_knowing_its_key_the_bot_adopts_nothing(
    simulator: Simulator, tmp_path: Path
) -> None:
    """No task of ours was ever listed: a task in the window may be anyone's on the account.
    The member is asked rather than handed someone else's video."""
    async with running_engine(simulator, tmp_path, KEY, **SETTINGS) as first:
        cut = await _cut(first, created=True)
    row, _ = await _settled(simulator, tmp_path, cut)
    assert row.state is JobState.FAILED
    assert row.error_key == MessageKey.SUBMIT_UNCERTAIN.value
    assert len(simulator.submissions) == 1
