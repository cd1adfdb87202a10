"""Retention: inputs go after 48 h, outputs after 7 days, never while a job is on its way;
``forget`` erases a member's media now and the rest as soon as their jobs end."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path

from bot.guilds.retention import MediaJanitor, RetentionPolicy
from bot.guilds.services import GuildServices
from bot.jobs.models import Job
from bot.jobs.states import JobState
from bot.media.cache import MediaCache
from tests.bot.guilds.conftest import GUILD, OTHER_GUILD
from tests.bot.guilds.rows import MovableClock, Rows, delivered, queued

INPUTS = ("image.source", "audio.source", "image.jpg", "audio.mp3")
OUTPUTS = ("result.mp4", "result-fitted.mp4")


def _files(media: Path, job: Job, names: tuple[str, ...] = INPUTS + OUTPUTS) -> Path:
    folder = MediaCache(media).folder(job.id)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x" * 1000)
    return folder


def _left(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _janitor(store: Rows, media: Path, clock: MovableClock) -> MediaJanitor:
    return MediaJanitor(
        jobs=store.jobs,
        guilds=store.guilds,
        cache=MediaCache(media),
        policy=RetentionPolicy(),
        clock=clock,
    )


async def test_inputs_go_after_48_hours_and_outputs_after_7_days_never_while_on_the_way(
    services: GuildServices, store: Rows, clock: MovableClock, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    done = await queued(
        store, services.admission, guild_id=GUILD, user_id=2, seconds=5, at=clock.now
    )
    done = await delivered(store, done, video_seconds=5, cost=0.05, at=clock.now)
    waiting = await queued(
        store, services.admission, guild_id=GUILD, user_id=2, seconds=5, at=clock.now
    )
    done_dir, waiting_dir = _files(media, done), _files(media, waiting, INPUTS)
    orphan = media / "job-999999"
    orphan.mkdir()
    (orphan / "image.source").write_bytes(b"x")
    hosted = media / "hosted"  # the http media host's files: not the janitor's
    hosted.mkdir()
    (hosted / "abcdefghijklmnop.jpg").write_bytes(b"x")
    janitor = _janitor(store, media, clock)

    clock.advance(hours=47)
    os.utime(orphan, (clock.now.timestamp() - 3600,) * 2)
    assert (await janitor.sweep()).files == 0
    assert _left(done_dir) == set(INPUTS + OUTPUTS)

    clock.advance(hours=2)  # 49 h
    os.utime(orphan, (clock.now.timestamp() - 49 * 3600,) * 2)
    swept = await janitor.sweep()
    assert swept.files == len(INPUTS) + 1  # and the orphan's one file
    assert _left(done_dir) == set(OUTPUTS)
    assert _left(waiting_dir) == set(INPUTS)  # still on its way: untouched
    assert not orphan.exists()
    assert _left(hosted) == {"abcdefghijklmnop.jpg"}
    row = await store.jobs.get(done.id)
    assert (row.image_source_url, row.audio_source_url) == ("", "")
    assert (row.image_url, row.audio_url, row.face_box, row.ext_box) == (None, None, None, None)
    assert row.result_url is not None  # the output's link goes with the output
    assert (row.cost_usd, row.user_id, row.channel_id) == (0.05, 2, 500)  # the audit stays
    assert (await store.jobs.get(waiting.id)).image_url == "oss://face"

    clock.advance(days=6)  # 7 days and 1 hour after delivery
    swept = await janitor.sweep()
    assert swept.files == len(OUTPUTS)
    assert not done_dir.exists()
    assert (await store.jobs.get(done.id)).result_url is None
    assert _left(waiting_dir) == set(INPUTS)
    row = await store.jobs.get(done.id)
    assert row.inputs_purged_at is not None
    assert row.outputs_purged_at is not None
    assert (await janitor.sweep()).files == 0  # nothing left to do


async def test_forget_erases_a_members_finished_media_now_and_the_rest_when_it_ends(
    services: GuildServices, store: Rows, clock: MovableClock, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    alice, bob = 2, 3
    admission = services.admission
    mine = await queued(store, admission, guild_id=GUILD, user_id=alice, seconds=5, at=clock.now)
    mine = await delivered(store, mine, video_seconds=5, cost=0.05, at=clock.now)
    elsewhere = await queued(
        store, admission, guild_id=OTHER_GUILD, user_id=alice, seconds=5, at=clock.now
    )
    elsewhere = await delivered(store, elsewhere, video_seconds=5, cost=0.05, at=clock.now)
    on_the_way = await queued(
        store, admission, guild_id=GUILD, user_id=alice, seconds=5, at=clock.now
    )
    theirs = await queued(store, admission, guild_id=GUILD, user_id=bob, seconds=5, at=clock.now)
    folders = {job.id: _files(media, job) for job in (mine, elsewhere, on_the_way, theirs)}
    janitor = _janitor(store, media, clock)

    erased = await janitor.forget_member(alice)
    assert (erased.jobs, erased.files, erased.unfinished) == (2, 12, 1)
    assert erased.bytes == 12_000
    assert not folders[mine.id].exists()
    assert not folders[elsewhere.id].exists()
    assert folders[on_the_way.id].exists()
    assert folders[theirs.id].exists()
    assert (await store.jobs.get(mine.id)).image_source_url == ""
    assert [erasure.owner.user_id for erasure in await store.guilds.erasures()] == [alice]

    # The job on its way ends; the next sweep erases it and closes the request.
    await store.jobs.transition(on_the_way, JobState.CANCELED)
    swept = await janitor.sweep()
    assert swept.jobs == 1
    assert not folders[on_the_way.id].exists()
    assert folders[theirs.id].exists()
    assert await store.guilds.erasures() == []
    assert not any(media.glob(f"job-{mine.id}*"))


async def test_leaving_a_server_erases_that_servers_media_only(
    services: GuildServices, store: Rows, clock: MovableClock, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    here = await queued(
        store, services.admission, guild_id=GUILD, user_id=2, seconds=5, at=clock.now
    )
    here = await delivered(store, here, video_seconds=5, cost=0.05, at=clock.now)
    there = await queued(
        store, services.admission, guild_id=OTHER_GUILD, user_id=2, seconds=5, at=clock.now
    )
    here_dir, there_dir = _files(media, here), _files(media, there)
    erased = await _janitor(store, media, clock).forget_guild(GUILD)
    assert (erased.jobs, erased.unfinished) == (1, 0)
    assert not here_dir.exists()
    assert _left(there_dir) == set(INPUTS + OUTPUTS)


async def test_the_sweep_runs_as_a_loop_until_cancelled(
    store: Rows, clock: MovableClock, tmp_path: Path
) -> None:
    orphan = tmp_path / "media" / "job-424242"
    orphan.mkdir(parents=True)
    os.utime(orphan, (clock.now.timestamp() - 72 * 3600,) * 2)
    janitor = MediaJanitor(
        jobs=store.jobs,
        guilds=store.guilds,
        cache=MediaCache(tmp_path / "media"),
        policy=RetentionPolicy(interval=timedelta(seconds=0.05)),
        clock=clock,
    )
    loop = asyncio.ensure_future(janitor.run_forever())  # as the retention duty runs it
    try:
        for _ in range(100):
            if not orphan.exists():
                break
            await asyncio.sleep(0.02)
        assert not orphan.exists()
        assert not loop.done()
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
