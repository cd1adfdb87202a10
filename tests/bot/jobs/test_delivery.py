"""The result's download, through the real core against the simulator: where it may come
from, what it must be, and how every failure ends the job with a message for its member."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.jobs.edge import ResultPost
from bot.jobs.models import Job
from bot.jobs.states import JobState
from bot.messages import MessageKey
from bot.simulator import Simulator
from tests.support.engine import EngineHarness, fast_simulator, running_engine

KEY = "sk-delivery-test"
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with fast_simulator(KEY) as simulator:
        yield simulator


async def _failed_with(engine: EngineHarness, job: Job, key: MessageKey) -> Job:
    await engine.wait_until(engine.all_final, within=60)
    final = await engine.jobs.get(job.id)
    assert final.state is JobState.FAILED, (final.state, final.error_key)
    assert final.error_key == key.value
    assert [message.key for job_id, message in engine.notifier.failures if job_id == job.id] == [
        key
    ]
    assert engine.notifier.deliveries == []
    return final


async def test_a_result_on_a_host_off_the_allowlist_fails_the_job_at_once(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = simulator.base_url.rsplit(":", 1)[1].split("/")[0]
    simulator.knobs.result_url_base = f"https://localhost:{port}"  # the simulator, renamed
    caplog.set_level(logging.WARNING, logger="bot.jobs.delivery")
    async with running_engine(simulator, tmp_path / "data", KEY) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        started = time.monotonic()
        await _failed_with(engine, job, MessageKey.RESULT_SOURCE_REFUSED)
        assert time.monotonic() - started < 30  # no retries: a render and one refusal
    assert "host 'localhost' is not allowed" in caplog.text
    assert "Signature" not in caplog.text  # the signed query never reaches the log


async def test_an_allowed_name_at_a_private_address_is_refused(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The operator allowed the name; it resolves to loopback, so it is refused all the same
    # (https on 443: the name, the scheme and the port pass; the address does not).
    simulator.knobs.result_url_base = "https://localhost"
    caplog.set_level(logging.WARNING, logger="bot.jobs.delivery")
    async with running_engine(
        simulator, tmp_path / "data", KEY, emo_result_hosts="*.aliyuncs.com,localhost"
    ) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await _failed_with(engine, job, MessageKey.RESULT_SOURCE_REFUSED)
    assert "not a public address" in caplog.text


@pytest.mark.parametrize("location", ["http://[::1", "https://x.aliyuncs.com:99999/v.mp4", ""])
async def test_a_malformed_redirect_fails_the_job_with_a_message(
    simulator: Simulator, tmp_path: Path, location: str
) -> None:
    simulator.knobs.result_redirect_location = location
    async with running_engine(simulator, tmp_path / "data", KEY) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await _failed_with(engine, job, MessageKey.RESULT_SOURCE_REFUSED)


async def test_a_result_that_is_not_a_video_is_never_posted(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.knobs.result_not_a_video = True
    async with running_engine(simulator, tmp_path / "data", KEY) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await _failed_with(engine, job, MessageKey.RESULT_NOT_VIDEO)
        assert not engine.core.cache.result(job.id).exists()


async def test_a_result_over_the_cap_is_refused_with_the_cap(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(
        simulator, tmp_path / "data", KEY, emo_max_result_bytes=10_000
    ) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await _failed_with(engine, job, MessageKey.RESULT_OVER_CAP)
        assert not engine.core.cache.result(job.id).exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
async def test_a_full_disk_fails_the_job_with_a_message(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.jobs.delivery")
    async with running_engine(simulator, tmp_path / "data", KEY) as engine:
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        result = engine.core.cache.result(job.id)
        result.parent.mkdir(parents=True, exist_ok=True)
        # Where the download is written: every write there fails with ENOSPC.
        result.with_name(result.name + ".part").symlink_to("/dev/full")
        await _failed_with(engine, job, MessageKey.RESULT_NOT_STORED)
    assert "No space left on device" in caplog.text


async def test_a_delivery_that_died_is_taken_up_again_and_posted_once(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path / "data", KEY, emo_lease_seconds=3) as engine:
        edge = engine.notifier
        post = edge.post
        died: list[float] = []

        async def dies_once(job: Job, result: ResultPost) -> int:
            if not died:
                died.append(time.monotonic())
                # The delivery task ends under the post, as a task the loop cancelled would:
                # nothing catches it, and the row stays DELIVERING.
                raise asyncio.CancelledError
            return await post(job, result)

        edge.post = dies_once  # type: ignore[method-assign]
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(engine.all_final, within=60)
        final = await engine.jobs.get(job.id)
        assert final.state is JobState.DELIVERED
        assert died
        assert [delivery.job_id for delivery in edge.deliveries] == [job.id]
        history = await engine.history(job.id)
        assert history[-2:] == [JobState.DELIVERING, JobState.DELIVERED]
        assert history.count(JobState.DELIVERING) == 1
        # Taken up once its lease lapsed (3 s), by the recovery sweep, not by a restart.
        assert time.monotonic() - died[0] < 20
