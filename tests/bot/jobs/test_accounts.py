"""Several provider accounts in the engine: a task id belongs to the account that submitted
it, and inputs uploaded for one account are uploaded again for another (issue 14)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import utcnow
from bot.jobs.cancel import CancelOutcome
from bot.jobs.models import AnimateRequest, InputRef, Job, JobChanges
from bot.jobs.repository import Caps
from bot.jobs.states import JobState
from bot.simulator import Simulator, SimulatorKnobs
from tests.support import media
from tests.support.engine import EngineHarness, running_engine, upload_sample_inputs

KEYS = ("sk-accounts-one", "sk-accounts-two")
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """Two accounts (each key its own), one render at a time each, slow enough to cancel."""
    knobs = SimulatorKnobs(render_seconds_per_audio_second=2.0, render_overhead_seconds=0.5)
    simulator = Simulator(knobs=knobs, api_keys=set(KEYS))
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


async def _enqueue(engine: EngineHarness, guild: int, *, bound_to: int) -> Job:
    """A QUEUED job as preparation leaves it: inputs uploaded for account ``bound_to`` (its
    oss:// links work only there), the converted files in the job's folder."""
    work = engine.core.engine.accounts[bound_to]
    inputs = await upload_sample_inputs(work.client)
    writer = engine.core.engine.writer
    request = AnimateRequest(
        guild_id=guild,
        channel_id=guild * 10,
        user_id=guild,
        image=InputRef(url="file:///prepared", declared_size=0),
        audio=InputRef(url="file:///prepared", declared_size=0),
    )
    job = await writer.create(request, Caps())
    face = io.BytesIO()
    media.astronaut().save(face, format="JPEG")
    image = engine.core.cache.converted(job.id, "image")
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(face.getvalue())
    engine.core.cache.converted(job.id, "audio").write_bytes(
        media.encode_audio(media.speech_pcm(4.0), container="mp3", codec="libmp3lame")
    )
    job = await writer.move(job, JobState.PREPARING)
    changes = inputs.queued(estimate_usd=0.05).model_copy(update={"inputs_account": work.name})
    job = await writer.move(job, JobState.QUEUED, changes)
    engine.core.service.wake()
    return job


async def test_each_task_is_polled_and_cancelled_with_its_own_accounts_key(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path, ",".join(KEYS)) as engine:
        accounts = engine.core.engine.accounts
        assert [work.name for work in accounts] == [simulator.account_id(key) for key in KEYS]
        # Every job prepared for the first account: the second uploads its inputs again.
        jobs = [await _enqueue(engine, guild, bound_to=0) for guild in (1, 2, 3, 4)]

        async def all_submitted() -> bool:
            rows = [await engine.core.jobs.get(job.id) for job in jobs]
            return all(row.task_id is not None for row in rows)

        await engine.wait_until(all_submitted, within=30)
        rows = [await engine.core.jobs.get(job.id) for job in jobs]
        # The row names the account that created the task, at the simulator.
        for row in rows:
            assert row.task_id is not None
            assert row.account == simulator.tasks[row.task_id].account
        second = [row for row in rows if row.account == accounts[1].name]
        assert len(second) == 2  # two slots per account: the load is shared
        assert all(row.inputs_account == accounts[1].name for row in second)
        # A task waiting at the second account is cancelled with the second account's key.
        waiting = next(
            row
            for row in second
            if row.task_id and simulator.tasks[row.task_id].status == "PENDING"
        )
        outcome, _ = await engine.core.service.cancel(
            waiting.id,
            guild_id=waiting.guild_id,
            actor_id=waiting.user_id,
            actor_manages_server=False,
        )
        assert outcome is CancelOutcome.CANCELED
        (cancel,) = simulator.cancels
        assert (cancel.task_id, cancel.account) == (waiting.task_id, accounts[1].name)
        # The others are polled to the end with their own keys, and delivered.
        await engine.wait_until(engine.all_final, within=60)
        assert len(engine.notifier.deliveries) == 3
        assert simulator.query_count.total > 0


async def test_a_submit_cut_short_on_the_second_account_is_settled_with_its_key(
    simulator: Simulator, tmp_path: Path
) -> None:
    """The process died while the second account was submitting: the task exists at that
    account, its id never reached the row. After the restart, the second account's
    settlement reads its own task list (with its own key) and adopts the task: the video is
    made once, on the account that was paying for it."""
    simulator.update_knobs(render_seconds_per_audio_second=0.2)
    settings = {"emo_http_timeout_seconds": 5.0}  # settled 5 + 10 s after the cut's write
    async with running_engine(simulator, tmp_path, ",".join(KEYS), **settings) as engine:
        accounts = engine.core.engine.accounts
        # Each account learns which key of its account is the bot's (a delivered task).
        for guild in (1, 2, 3, 4):
            await _enqueue(engine, guild, bound_to=guild % 2)
        await engine.wait_until(engine.all_final, within=60)

        async def both_known() -> bool:
            return all([await work.identity.current() is not None for work in accounts])

        await engine.wait_until(both_known, within=20)
        # Those tasks are a minute old by the settlement (as on a slow machine): old enough
        # that each account's list must show its own, and never the other account's.
        aged = utcnow() - timedelta(minutes=1)
        await engine.core.db.execute(
            "UPDATE jobs SET submitted_at = ? WHERE task_id IS NOT NULL", (aged,)
        )
        for work in accounts:
            await work.prober.gate.pause("Test", "hold the dispatchers")
        job = await _enqueue(engine, 9, bound_to=1)
        second = accounts[1]
        held = JobChanges(
            attempt=1,
            account=second.name,
            lease_owner=engine.core.instance,
            lease_until=utcnow() + timedelta(hours=1),
        )
        # Written 3 s ago: the task, created just after, is well inside the write's window
        # (up to the HTTP timeout + 10 s after it) however slow this machine is.
        job = await engine.jobs_as_of(3).transition(job, JobState.SUBMITTING, held)
        assert job.image_url
        assert job.audio_url
        assert job.face_box
        assert job.ext_box
        cut_task = await second.client.submit_synthesis(
            image_url=job.image_url,
            audio_url=job.audio_url,
            face_bbox=job.face_box.as_list(),
            ext_bbox=job.ext_box.as_list(),
            style_level="normal",
        )
        for work in accounts:
            await work.prober.gate.resume("test")
    submitted = len(simulator.submissions)

    async with running_engine(simulator, tmp_path, ",".join(KEYS), **settings) as engine:
        await engine.wait_until(engine.all_final, within=60)
        row = await engine.core.jobs.get(job.id)
    assert row.state is JobState.DELIVERED, (row.error_key, row.error_detail, row.account)
    assert (row.task_id, row.account) == (cut_task, simulator.tasks[cut_task].account)
    assert row.account == simulator.account_id(KEYS[1])
    assert len(simulator.submissions) == submitted  # adopted, never submitted again
