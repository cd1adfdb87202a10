"""The Must-shows on the real core: the simulator over HTTP, real files, real SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import next_month, utcnow
from bot.errors import UserFacingError
from bot.guilds.access import Viewer
from bot.guilds.retention import MediaJanitor, RetentionPolicy
from bot.guilds.sql import SqlGuildRepository
from bot.jobs.states import JobState
from bot.messages import MessageKey
from bot.provider.pricing import HEAD_USD_PER_SECOND
from bot.simulator import Simulator, SimulatorKnobs
from tests.bot.guilds.rows import MovableClock
from tests.support.engine import running_engine

KEY = "sk-guilds-test"
PRICE = 0.01  # USD per second of head video, instead of the provider's list price
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.02, render_overhead_seconds=0.2)
    simulator = Simulator(knobs=knobs, api_keys={KEY})
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


async def test_jobs_are_accepted_up_to_the_budget_and_the_cost_is_duration_times_price(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(
        simulator, tmp_path / "data", KEY, emo_price_head_usd_per_second=PRICE
    ) as engine:
        admin = Viewer(guild_id=1, user_id=99, manages_server=True)
        # Two 10-second videos fit (about $0.10 each), a third does not.
        await engine.core.guilds.settings.update(admin, {"monthly_budget_usd": 0.25})
        accepted = [
            await engine.request(guild_id=1, user_id=user, folder=tmp_path) for user in (1, 2)
        ]
        with pytest.raises(UserFacingError) as refused:
            await engine.request(guild_id=1, user_id=3, folder=tmp_path)
        message = refused.value.message
        assert message.key is MessageKey.QUOTA_MONTHLY_BUDGET
        assert message.params["budget"] == "0.250"
        assert message.params["resets_at"] == int(next_month(utcnow()).timestamp())
        # Another server has its own budget (none).
        other = await engine.request(guild_id=2, user_id=3, folder=tmp_path)
        await engine.wait_until(engine.all_final)

        store = engine.core.jobs
        (rejected,) = await store.in_states([JobState.REJECTED])
        assert (rejected.user_id, rejected.error_key) == (3, MessageKey.QUOTA_MONTHLY_BUDGET.value)
        assert rejected.task_id is None  # never submitted
        for job in [*accepted, other]:
            row = await store.get(job.id)
            assert row.state is JobState.DELIVERED
            assert row.audio_seconds is not None
            assert row.video_seconds is not None
            assert row.estimate_usd == pytest.approx(round(row.audio_seconds * PRICE, 6))
            assert row.cost_usd == pytest.approx(round(row.video_seconds * PRICE, 6))
            assert row.cost_usd != pytest.approx(row.video_seconds * HEAD_USD_PER_SECOND)
        assert len(simulator.submissions) == 3


async def test_after_the_retention_time_the_files_and_the_links_are_gone(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path / "data", KEY) as engine:
        job = await engine.request(guild_id=1, user_id=1, folder=tmp_path)
        await engine.wait_until(engine.all_final)
        media = engine.core.settings.media_dir
        folder = media / f"job-{job.id}"
        assert {p.name for p in folder.iterdir()} >= {
            "image.source",
            "audio.source",
            "image.jpg",
            "audio.mp3",
            "result.mp4",
        }
        store = engine.core.jobs
        row = await store.get(job.id)
        assert row.state is JobState.DELIVERED
        assert row.image_url
        assert row.result_url
        clock = MovableClock(now=utcnow())
        janitor = MediaJanitor(
            jobs=store,
            guilds=SqlGuildRepository(engine.core.db),
            cache=engine.core.cache,
            policy=RetentionPolicy(),
            clock=clock,
        )

        clock.advance(hours=47)
        await janitor.sweep()
        assert (folder / "image.source").exists()

        clock.advance(hours=2)
        await janitor.sweep()
        assert {p.name for p in folder.iterdir()} == {"result.mp4"}
        row = await store.get(job.id)
        assert (row.image_source_url, row.audio_source_url, row.image_url, row.audio_url) == (
            "",
            "",
            None,
            None,
        )

        clock.advance(days=6)
        await janitor.sweep()
        assert not folder.exists()
        assert list(media.glob("job-*")) == []
        row = await store.get(job.id)
        assert row.result_url is None
        # The job's record stays for the audit.
        assert row.user_id == 1
        assert row.cost_usd is not None
