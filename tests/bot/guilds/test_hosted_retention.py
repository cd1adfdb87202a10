"""Retention and ``/emo forget`` delete the copies re-hosted for the provider (here the bot's
own http media host, real and listening on loopback) and clear the rows' links; a copy the
host cannot delete yet keeps its link until a later sweep can."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from bot.guilds.retention import MediaJanitor, RetentionPolicy
from bot.guilds.services import GuildServices
from bot.jobs.models import Job, JobChanges
from bot.jobs.states import JobState
from bot.media.hosting.http import HttpMediaHost
from bot.provider.models import DETECT_MODEL, SYNTHESIS_MODEL
from bot.settings import MediaHostKind, Settings
from tests.bot.guilds.conftest import GUILD
from tests.bot.guilds.rows import BOX, MovableClock, Rows, delivered, preparing

pytestmark = pytest.mark.timeout(30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def http_host(tmp_path: Path) -> AsyncIterator[HttpMediaHost]:
    port = _free_port()
    settings = Settings(
        discord_token="x",
        dashscope_api_key="sk-test",
        emo_data_dir=tmp_path,  # the same media folder as the rows' cache
        emo_media_host=MediaHostKind.HTTP,
        emo_media_server_bind=f"127.0.0.1:{port}",
        emo_public_base_url=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
    )
    host = await HttpMediaHost.from_settings(settings)
    await host.start()
    yield host
    await host.close()


async def _hosted_job(
    store: Rows, services: GuildServices, host: HttpMediaHost, *, user_id: int, at: datetime
) -> Job:
    """A delivered job whose inputs were re-hosted as preparation does it: the portrait for
    the face check and the render, and the recording."""
    job = await preparing(store, guild_id=GUILD, user_id=user_id, at=at)
    name = f"job{job.id}-face.jpg"
    await host.publish(
        b"\xff\xd8 face", model=DETECT_MODEL, filename=name, content_type="image/jpeg"
    )
    image = await host.publish(
        b"\xff\xd8 face", model=SYNTHESIS_MODEL, filename=name, content_type="image/jpeg"
    )
    audio = await host.publish(
        b"ID3 voice",
        model=SYNTHESIS_MODEL,
        filename=f"job{job.id}-voice.mp3",
        content_type="audio/mpeg",
    )
    entry = await services.admission.entry(job, 5)
    job = await store.jobs.transition(
        job,
        JobState.QUEUED,
        JobChanges(
            audio_seconds=5,
            image_url=image,
            audio_url=audio,
            face_box=BOX,
            ext_box=BOX,
            estimate_usd=entry.estimate_usd,
        ),
        guard=entry.guard,
    )
    return await delivered(store, job, video_seconds=5, cost=0.05, at=at)


async def _status(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(URL(url, encoded=True)) as answer:
        return answer.status


def _janitor(store: Rows, clock: MovableClock, host: HttpMediaHost) -> MediaJanitor:
    return MediaJanitor(
        jobs=store.jobs,
        guilds=store.guilds,
        cache=store.cache,
        policy=RetentionPolicy(),
        host=host,
        clock=clock,
    )


def _hosted_files(host: HttpMediaHost) -> list[str]:
    return sorted(path.name for path in host.config.directory.iterdir())


async def test_retention_deletes_the_hosted_copies_then_forgets_their_links(
    services: GuildServices, store: Rows, clock: MovableClock, http_host: HttpMediaHost
) -> None:
    job = await _hosted_job(store, services, http_host, user_id=2, at=clock.now)
    assert job.image_url is not None
    assert job.audio_url is not None
    # The face check's copy and the render's are one file: the row's link reaches both.
    assert len(_hosted_files(http_host)) == 2
    assert await _status(job.image_url) == 200
    janitor = _janitor(store, clock, http_host)

    clock.advance(hours=47)
    assert (await janitor.sweep()).hosted == 0
    assert await _status(job.image_url) == 200

    clock.advance(hours=2)
    swept = await janitor.sweep()
    assert swept.hosted == 2
    assert swept.hosted_left == 0
    assert _hosted_files(http_host) == []
    assert await _status(job.image_url) == 404
    assert await _status(job.audio_url) == 404
    row = await store.jobs.get(job.id)
    assert (row.image_url, row.audio_url) == (None, None)
    assert row.inputs_purged_at is not None
    assert row.result_url is not None  # the output's link goes with the output, later


async def test_a_copy_the_host_cannot_delete_keeps_its_link_until_it_can(
    services: GuildServices, store: Rows, clock: MovableClock, http_host: HttpMediaHost
) -> None:
    alice = 2
    job = await _hosted_job(store, services, http_host, user_id=alice, at=clock.now)
    assert job.image_url is not None
    stuck = http_host.config.directory / str(http_host.name_of(job.image_url))
    stuck.unlink()
    stuck.mkdir()  # a directory where the file was: unlink fails (EISDIR), as a real error
    janitor = _janitor(store, clock, http_host)

    erased = await janitor.forget_member(alice)

    assert (erased.jobs, erased.hosted, erased.hosted_left) == (1, 1, 1)
    row = await store.jobs.get(job.id)
    assert row.image_url == job.image_url  # kept: the next sweep tries again
    assert row.inputs_purged_at is None
    assert row.outputs_purged_at is not None
    assert [erasure.owner.user_id for erasure in await store.guilds.erasures()] == [alice]

    assert (await janitor.sweep()).hosted_left == 1  # still refused: still recorded
    assert len(await store.guilds.erasures()) == 1

    stuck.rmdir()  # the operator fixed it
    swept = await janitor.sweep()
    assert swept.hosted_left == 0
    row = await store.jobs.get(job.id)
    assert (row.image_url, row.audio_url) == (None, None)
    assert row.inputs_purged_at is not None
    assert await store.guilds.erasures() == []
    assert _hosted_files(http_host) == []
