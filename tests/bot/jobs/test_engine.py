"""The job engine against the DashScope simulator over loopback HTTP (no Discord here)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import UserFacingError
from bot.jobs.models import JobChanges
from bot.jobs.states import JobState
from bot.messages import MessageKey
from bot.simulator import Simulator
from tests.support.engine import EngineHarness, fast_simulator, running_engine

KEY = "sk-engine-test"
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with fast_simulator(KEY) as simulator:
        yield simulator


def starts(simulator: Simulator) -> list[str]:
    """Task ids in the order the provider started running them."""
    return [task_id for _, task_id in _runs(simulator)]


async def job_of_task(engine: EngineHarness, task_id: str) -> int:
    for state in JobState:
        for job in await engine.core.jobs.in_states([state]):
            if job.task_id == task_id:
                return job.id
    raise KeyError(task_id)


async def test_a_light_server_waits_behind_at_most_one_job_of_a_flooding_one(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path, KEY, emo_lookahead_window_seconds=0.2) as engine:
        flood = [await engine.enqueue_prepared(guild_id=1, user_id=n) for n in range(8)]
        await engine.wait_until(lambda: _started(simulator, 1), within=20)
        arrivals: dict[int, float] = {}
        for guild in (2, 3, 4):
            await asyncio.sleep(0.4)
            job = await engine.enqueue_prepared(guild_id=guild, user_id=100 + guild)
            arrivals[job.id] = simulator.now()
        await engine.wait_until(engine.all_final, within=60)

        started_at = {await job_of_task(engine, task): at for at, task in _runs(simulator)}
        flood_ids = {job.id for job in flood}
        for light_id, arrived in arrivals.items():
            # Flood jobs that began rendering after this job arrived and before it did.
            overtaken_by = [
                job_id
                for job_id in flood_ids
                if arrived < started_at[job_id] < started_at[light_id]
            ]
            assert len(overtaken_by) <= 1, (light_id, overtaken_by)
        assert len(engine.notifier.deliveries) == len(flood) + len(arrivals)
        assert len(simulator.submissions) == len(flood) + len(arrivals)


def _runs(simulator: Simulator) -> list[tuple[float, str]]:
    return sorted(
        (change.at, task_id)
        for task_id, task in simulator.tasks.items()
        for change in task.history
        if change.status == "RUNNING"
    )


async def _started(simulator: Simulator, count: int) -> bool:
    return len(starts(simulator)) >= count


async def test_an_operator_problem_pauses_everyone_keeps_the_queue_and_resumes(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.fail_next("submit", 400, "Arrearage", "Your account is in arrears.")
    async with running_engine(simulator, tmp_path, KEY, emo_probe_interval_seconds=0.5) as engine:
        first = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(lambda: _paused(engine), within=10)
        queued = [await engine.enqueue_prepared(guild_id=g, user_id=g) for g in (2, 3, 4)]
        await asyncio.sleep(0.3)
        # Paused: nothing submitted, nobody failed, every job still queued in order.
        assert simulator.submissions == []
        rows = await engine.core.jobs.in_states([JobState.QUEUED])
        assert [row.id for row in rows] == [first.id, *(job.id for job in queued)]
        assert engine.notifier.failures == []
        assert len(engine.notifier.alerts) == 1
        assert "Arrearage" in engine.notifier.alerts[0]
        # The probe finds the account answering again and lifts the pause by itself.
        await engine.wait_until(engine.all_final, within=60)
        assert [d.job_id for d in engine.notifier.deliveries][:1] == [first.id]
        assert len(engine.notifier.deliveries) == 4
        assert len(engine.notifier.alerts) == 1  # told once


async def _paused(engine: EngineHarness) -> bool:
    return await engine.service.gate.current() is not None


async def test_a_bad_key_stays_paused_until_an_admin_resumes(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.fail_next("submit", 401, "InvalidApiKey", "Invalid API-key provided.")
    simulator.fail_next("query", 401, "InvalidApiKey", "Invalid API-key provided.", times=1000)
    async with running_engine(simulator, tmp_path, KEY, emo_probe_interval_seconds=0.2) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(lambda: _paused(engine), within=10)
        await asyncio.sleep(1.0)  # several probes, all refused
        pause = await engine.service.gate.current()
        assert pause is not None
        assert pause.probes >= 2
        assert simulator.submissions == []
        simulator.clear_failures()  # the operator fixed the key
        assert await engine.service.resume_provider("admin")
        await engine.wait_until(engine.all_final, within=30)
        assert [d.job_id for d in engine.notifier.deliveries] == [job.id]


async def test_queries_stay_within_the_budget_and_429s_slow_them_down(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.update_knobs(max_running_per_account=8, render_overhead_seconds=2.0)
    simulator.knobs.rate_limits.query = 3  # below the bot's budget: it will meet 429s
    async with running_engine(
        simulator,
        tmp_path,
        KEY,
        emo_provider_concurrency=8,
        emo_lookahead=4,
        emo_poll_min_seconds=0.05,
        emo_poll_max_seconds=0.2,
        emo_query_budget_per_second=4,
    ) as engine:
        started = time.monotonic()
        for n in range(12):
            await engine.enqueue_prepared(guild_id=n, user_id=n)
        await engine.wait_until(engine.all_final, within=60)
        elapsed = time.monotonic() - started
    assert len(engine.notifier.deliveries) == 12
    budget = engine.service.budget
    # Every query (polls, and the one task list that learns the bot's key) went through the
    # budget, and the budget held: rate × time + one burst.
    assert simulator.query_count.total + simulator.list_calls == budget.spent
    assert budget.spent <= 4 * elapsed + budget.burst
    # The provider's tighter limit answered some 429s; the bot backed off rather than hammer.
    throttled = simulator.throttled.get("query", 0)
    assert throttled <= budget.spent // 3


async def test_transient_submit_errors_retry_with_backoff_then_give_up(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.fail_next("submit", 500, "InternalError", "try again", times=2)
    async with running_engine(
        simulator, tmp_path, KEY, emo_provider_retries=3, emo_retry_base_seconds=0.1
    ) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(engine.all_final, within=30)
        row = await engine.core.jobs.get(job.id)
        assert row.state is JobState.DELIVERED
        assert row.attempt == 3

        simulator.fail_next("submit", 503, "ModelUnavailable", "down", times=50)
        doomed = await engine.enqueue_prepared(guild_id=2, user_id=2)
        await engine.wait_until(engine.all_final, within=30)
        # The row is written first, the member told right after.
        await engine.wait_until(lambda: _told(engine), within=5)
        row = await engine.core.jobs.get(doomed.id)
        assert row.state is JobState.FAILED
        assert row.attempt == 4  # the first try and three retries
        assert row.error_key == MessageKey.PROVIDER_BUSY.value
        assert [f[0] for f in engine.notifier.failures] == [doomed.id]
        assert len(simulator.submissions) == 1


async def _told(engine: EngineHarness, count: int = 1) -> bool:
    return len(engine.notifier.failures) >= count


async def test_caps_answer_at_once_with_the_numbers(simulator: Simulator, tmp_path: Path) -> None:
    async with running_engine(
        simulator,
        tmp_path,
        KEY,
        emo_max_active_per_member=1,
        emo_max_queued_per_server=2,
    ) as engine:
        simulator.update_knobs(render_overhead_seconds=30)  # nothing finishes meanwhile
        await engine.request(guild_id=1, user_id=1, folder=tmp_path)
        with pytest.raises(UserFacingError) as member:
            await engine.request(guild_id=1, user_id=1, folder=tmp_path)
        assert member.value.message.key is MessageKey.MEMBER_BUSY
        assert member.value.message.params == {"count": 1, "limit": 1}
        for user in (2, 3):
            await engine.enqueue_prepared(guild_id=7, user_id=user)
        with pytest.raises(UserFacingError) as server:
            await engine.request(guild_id=7, user_id=4, folder=tmp_path)
        assert server.value.message.key is MessageKey.SERVER_QUEUE_FULL


async def test_a_task_stuck_pending_is_cancelled_uncharged(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.update_knobs(render_overhead_seconds=30)
    async with running_engine(
        simulator,
        tmp_path,
        KEY,
        emo_stuck_task_seconds=1.0,
        emo_lookahead_window_seconds=100,
    ) as engine:
        running = await engine.enqueue_prepared(guild_id=1, user_id=1)
        pending = await engine.enqueue_prepared(guild_id=2, user_id=2)
        await engine.wait_until(lambda: _ended(engine, pending.id), within=20)
        row = await engine.core.jobs.get(pending.id)
        assert row.state is JobState.FAILED
        assert row.error_key == MessageKey.RENDER_STUCK.value
        assert simulator.tasks[row.task_id or ""].status == "CANCELED"
        assert (await engine.core.jobs.get(running.id)).state is JobState.SUBMITTED


async def _ended(engine: EngineHarness, job_id: int) -> bool:
    return (await engine.core.jobs.get(job_id)).state.is_terminal


async def test_durations_are_learned_from_finished_renders(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path, KEY) as engine:
        for n in range(3):
            await engine.enqueue_prepared(guild_id=n, user_id=n)
        await engine.wait_until(engine.all_final, within=30)
        model = engine.service.durations
    assert model.samples == 3
    # The simulator renders 4 s of audio in about 0.3 + 0.05 × 4 s (plus real encoding).
    assert 0.2 < model.expected(4.0) < 2.0


async def _orphan_submitting(engine: EngineHarness, count: int, *, created: int) -> list[int]:
    """Jobs left in SUBMITTING by a process that died mid-submit; ``created`` of them were
    accepted by the provider before it died (their task ids never reached the rows). The
    process had delivered a job before, so it knew which of the account's keys is its."""
    await engine.learn_our_key()
    await engine.service.gate.pause("Test", "hold the dispatcher")
    # The rows were last written 10 s ago: the dead process's submit is long over.
    dead_process = engine.jobs_as_of(10)
    ids = []
    for n in range(count):
        job = await engine.enqueue_prepared(guild_id=50 + n, user_id=50 + n)
        job = await dead_process.transition(job, JobState.SUBMITTING, JobChanges(attempt=1))
        if n < created:
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
        ids.append(job.id)
    await engine.service.gate.resume("test")
    return ids


@pytest.mark.parametrize(
    ("orphans", "created", "expected"),
    [
        (1, 1, [JobState.DELIVERED]),  # the provider has the task: adopted, not resubmitted
        (1, 0, [JobState.DELIVERED]),  # it never reached the provider: queued again
        (2, 1, [JobState.FAILED, JobState.FAILED]),  # ambiguous: the members are asked
    ],
)
async def test_a_submit_cut_short_by_a_crash_is_settled_without_a_second_charge(
    simulator: Simulator,
    tmp_path: Path,
    orphans: int,
    created: int,
    expected: list[JobState],
) -> None:
    settings = {"emo_http_timeout_seconds": 1.0}
    async with running_engine(simulator, tmp_path, KEY, **settings) as first:
        ids = await _orphan_submitting(first, orphans, created=created)
    earlier = 1  # the job that taught the bot its key
    assert len(simulator.submissions) == earlier + created
    async with running_engine(simulator, tmp_path, KEY, **settings) as second:
        await second.wait_until(second.all_final, within=30)
        rows = [await second.core.jobs.get(job_id) for job_id in ids]
        assert [row.state for row in rows] == expected
        submitted_for_us = len(simulator.submissions) - earlier
        if expected == [JobState.DELIVERED]:
            assert submitted_for_us == 1  # exactly one task, whichever way it got there
        else:
            assert submitted_for_us == created  # nothing resubmitted
            assert {row.error_key for row in rows} == {MessageKey.SUBMIT_UNCERTAIN.value}
            await second.wait_until(lambda: _told(second, len(ids)), within=5)
            assert sorted(f[0] for f in second.notifier.failures) == ids


async def test_settling_a_cut_submit_never_adopts_a_live_submits_task(
    simulator: Simulator, tmp_path: Path
) -> None:
    """A submit of ours still waiting for its answer while the task list is read: its task
    looks unknown and sits in the cut job's window. It must not be taken for the cut job's."""
    settings = {"emo_http_timeout_seconds": 5.0}
    async with running_engine(simulator, tmp_path, KEY, **settings) as first:
        cut = (await _orphan_submitting(first, 1, created=0))[0]
        await first.service.gate.pause("Test", "hold the dispatcher")
        waiting = await first.enqueue_prepared(guild_id=60, user_id=60)
        # Settled 1 s after the restart: while the waiting job's submit awaits its answer.
        cut_row = await first.jobs.get(cut)
        await first.jobs_as_of(14).annotate(cut_row, JobChanges(attempt=cut_row.attempt))
    simulator.update_knobs(submit_answer_delay_seconds=3.0)
    async with running_engine(simulator, tmp_path, KEY, **settings) as second:
        await second.service.gate.resume("test")
        second.service.wake()
        await second.wait_until(second.all_final, within=30)
        rows = {job_id: await second.core.jobs.get(job_id) for job_id in (cut, waiting.id)}
    tasks = [submission.task_id for submission in simulator.submissions[1:]]  # after the
    # job that taught the bot its key
    assert rows[waiting.id].state is JobState.DELIVERED
    assert rows[waiting.id].task_id in tasks
    # The cut job holds no one else's task: it was queued again or its member was asked.
    assert rows[cut].task_id != rows[waiting.id].task_id
    assert rows[cut].state in (JobState.DELIVERED, JobState.FAILED)
    assert len(tasks) == 1 + (rows[cut].state is JobState.DELIVERED)


async def test_a_job_asks_for_one_upload_policy_per_model(
    simulator: Simulator, tmp_path: Path
) -> None:
    """Its three uploads (the image for the detector; the image and the audio for emo-v1),
    started together, share one policy per model."""
    async with running_engine(simulator, tmp_path, KEY) as engine:
        await engine.request(guild_id=1, user_id=1, folder=tmp_path)
        await engine.wait_until(engine.all_final, within=30)
    assert len(simulator.uploads) == 3
    assert sorted(p.model for p in simulator.policies) == ["emo-detect-v1", "emo-v1"]
