"""Confirm before spending, in the engine: a waiting job is no part of the queue, only its
requester (or a manager) confirms it, and the overdue are ended from their rows alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import utcnow
from bot.jobs.confirmation import Confirmation, ConfirmOutcome
from bot.jobs.models import AnimateRequest, InputRef, Job
from bot.jobs.repository import Caps
from bot.jobs.states import JobState
from bot.simulator import Simulator
from tests.support.engine import EngineHarness, fast_simulator, running_engine

KEY = "sk-confirm-test"
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with fast_simulator(KEY) as simulator:
        yield simulator


def _request(guild_id: int, user_id: int, *, confirm: bool) -> AnimateRequest:
    return AnimateRequest(
        guild_id=guild_id,
        channel_id=guild_id * 10,
        user_id=user_id,
        image=InputRef(url="file:///prepared", declared_size=0),
        audio=InputRef(url="file:///prepared", declared_size=0),
        confirm_first=confirm,
    )


async def _prepared(
    engine: EngineHarness, guild_id: int, user_id: int, *, confirm: bool, caps: Caps | None = None
) -> Job:
    """A job past its preparation: waiting for a Confirm, or queued."""
    writer, confirmation = engine.core.engine.writer, engine.core.engine.confirmation
    job = await writer.create(_request(guild_id, user_id, confirm=confirm), caps or Caps())
    job = await writer.move(job, JobState.PREPARING)
    inputs = await engine.inputs()
    target, changes = confirmation.entering(job, inputs.queued(estimate_usd=0.05))
    job = await writer.move(job, target, changes)
    engine.service.wake()
    return job


async def test_a_waiting_job_is_no_part_of_the_queue_until_its_requester_confirms(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path, KEY) as engine:
        waiting = await _prepared(engine, 1, 7, confirm=True)
        assert waiting.state is JobState.AWAITING_CONFIRMATION
        assert waiting.queued_at is None
        assert waiting.confirm_by is not None
        assert waiting.confirm_by - utcnow() > timedelta(seconds=590)
        # It holds no place: the server's queue cap of one still admits a job, which is
        # submitted and delivered while this one waits.
        other = await _prepared(engine, 1, 8, confirm=False, caps=Caps(queued_per_server=1))
        assert other.state is JobState.QUEUED
        await engine.wait_until(lambda: _state_is(engine, other.id, JobState.DELIVERED), within=30)
        assert (await engine.jobs.get(waiting.id)).state is JobState.AWAITING_CONFIRMATION
        assert len(simulator.submissions) == 1

        service = engine.service
        assert await service.confirm(
            waiting.id, guild_id=2, actor_id=7, actor_manages_server=True
        ) == (ConfirmOutcome.NOT_FOUND, None)
        outcome, _ = await service.confirm(
            waiting.id, guild_id=1, actor_id=8, actor_manages_server=False
        )
        assert outcome is ConfirmOutcome.FORBIDDEN
        outcome, queued = await service.confirm(
            waiting.id, guild_id=1, actor_id=7, actor_manages_server=False
        )
        assert outcome is ConfirmOutcome.CONFIRMED
        assert queued is not None
        assert queued.queued_at is not None
        outcome, _ = await service.confirm(
            waiting.id, guild_id=1, actor_id=7, actor_manages_server=False
        )
        assert outcome in (ConfirmOutcome.ALREADY, ConfirmOutcome.ENDED)
        await engine.wait_until(
            lambda: _state_is(engine, waiting.id, JobState.DELIVERED), within=30
        )
        assert len(simulator.submissions) == 2
        assert await engine.history(waiting.id) == [
            JobState.RECEIVED,
            JobState.PREPARING,
            JobState.AWAITING_CONFIRMATION,
            JobState.QUEUED,
            JobState.SUBMITTING,
            JobState.SUBMITTED,
            JobState.SUCCEEDED,
            JobState.DELIVERING,
            JobState.DELIVERED,
        ]


async def test_the_overdue_are_cancelled_from_their_rows_by_any_sweeper(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path, KEY) as engine:
        job = await _prepared(engine, 1, 7, confirm=True)
        engine_parts = engine.core.engine
        # A sweeper that never saw the job come in (another process, or after a restart),
        # its clock 11 minutes on: the row alone says the job is overdue.
        later = Confirmation(
            jobs=engine.jobs,
            writer=engine_parts.writer,
            admission=engine.core.guilds.admission,
            timeout_seconds=600,
            wake_dispatch=lambda: None,
            clock=lambda: utcnow() + timedelta(minutes=11),
        )
        now = Confirmation(
            jobs=engine.jobs,
            writer=engine_parts.writer,
            admission=engine.core.guilds.admission,
            timeout_seconds=600,
            wake_dispatch=lambda: None,
        )
        assert await now.expire_overdue() == 0
        assert await later.expire_overdue() == 1
        assert await later.expire_overdue() == 0
        ended = await engine.jobs.get(job.id)
        assert ended.state is JobState.CANCELED
        assert ended.error_key == "confirm_timed_out"
        assert ended.task_id is None
        assert ended.cost_usd is None
        assert [(job_id, message.key.value) for job_id, message in engine.notifier.failures] == [
            (job.id, "confirm_timed_out")
        ]
        assert simulator.submissions == []


async def _state_is(engine: EngineHarness, job_id: int, state: JobState) -> bool:
    return (await engine.jobs.get(job_id)).state is state
