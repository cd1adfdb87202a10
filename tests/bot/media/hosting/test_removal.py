"""Deleting what was published, over real HTTP: S3 (moto behind the SigV4 gate), the http
host, and DashScope's temporary storage (which cannot delete: its files expire in 48 h)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from yarl import URL

from bot.media.hosting import MediaHost, MediaHostError, Removal, open_media_host
from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderTransientError
from bot.provider.models import DETECT_MODEL, SYNTHESIS_MODEL
from bot.settings import MediaHostKind, Settings
from tests.bot.media.hosting.conftest import SettingsFactory, SigV4Gate, free_port

pytestmark = pytest.mark.timeout(20)


@dataclass
class Hosted:
    kind: MediaHostKind
    settings: Settings
    stored: Callable[[], list[str]]  # what the backend holds now, read from the outside


@dataclass
class Backend(Hosted):
    host: MediaHost


@pytest.fixture(params=list(MediaHostKind), ids=lambda kind: kind.value)
def hosted(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Hosted:
    """A backend's settings, and how to see what it stores (its host is not started)."""
    kind: MediaHostKind = request.param
    stored: Callable[[], list[str]]
    if kind is MediaHostKind.S3:
        settings: Settings = request.getfixturevalue("s3_settings")()
        admin, bucket = request.getfixturevalue("s3_admin"), request.getfixturevalue("bucket")

        def stored() -> list[str]:
            listing = admin.list_objects_v2(Bucket=bucket)
            return [item["Key"] for item in listing.get("Contents", [])]

    else:
        settings = make_settings(kind)
        folder = settings.media_dir / "hosted"
        simulator = request.getfixturevalue("simulator")

        def stored() -> list[str]:
            if kind is MediaHostKind.DASHSCOPE:
                return [str(upload.url) for upload in simulator.uploads if upload.path.exists()]
            return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    return Hosted(kind, settings, stored)


@pytest.fixture
async def media(
    hosted: Hosted, client: DashScopeClient, session: aiohttp.ClientSession
) -> AsyncIterator[Backend]:
    """The backend, running until the test ends."""
    async with open_media_host(hosted.settings, client=client, session=session) as host:
        yield Backend(hosted.kind, hosted.settings, hosted.stored, host)


async def _publish_for_both_models(host: MediaHost, data: bytes) -> tuple[str, str]:
    """As preparation does: the portrait for the face check and for the render, at once."""
    detect, render = await asyncio.gather(
        host.publish(data, model=DETECT_MODEL, filename="job7-face.jpg", content_type="image/jpeg"),
        host.publish(
            data, model=SYNTHESIS_MODEL, filename="job7-face.jpg", content_type="image/jpeg"
        ),
    )
    return detect, render


async def _status(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(URL(url, encoded=True)) as response:
        return response.status


async def test_the_one_url_a_job_keeps_deletes_every_copy(
    media: Backend, session: aiohttp.ClientSession, jpeg_bytes: bytes
) -> None:
    detect, render = await _publish_for_both_models(media.host, jpeg_bytes)
    if media.kind is MediaHostKind.DASHSCOPE:
        # Bound to one model each, two uploads; DashScope offers no delete: they expire.
        assert detect != render
        assert await media.host.delete(render) is Removal.KEPT
        assert len(media.stored()) == 2
        return
    # Not bound to a model: one stored copy, one URL for both models.
    assert detect == render
    assert len(media.stored()) == 1
    assert await _status(session, render) == 200

    assert await media.host.delete(render) is Removal.DELETED

    assert media.stored() == []
    assert await _status(session, render) in (403, 404)
    # Deleting again is harmless (S3 answers 204 whether the object was there or not).
    assert await media.host.delete(render) in (Removal.ABSENT, Removal.DELETED)


async def test_urls_that_are_not_this_hosts_are_kept(media: Backend, jpeg_bytes: bytes) -> None:
    url = await media.host.publish(
        jpeg_bytes, model=SYNTHESIS_MODEL, filename="job8-face.jpg", content_type="image/jpeg"
    )
    foreign = [
        "oss://dashscope-instant/abc/job8-face.jpg",
        "https://elsewhere.example.com/emo-bot/2026-01-01/x-job8-face.jpg",
        "https://elsewhere.example.com/media/../../etc/passwd",
        "not a url",
    ]
    for other in foreign:
        assert await media.host.delete(other) is Removal.KEPT, other
    assert len(media.stored()) == 1
    assert await media.host.delete(url) is (
        Removal.KEPT if media.kind is MediaHostKind.DASHSCOPE else Removal.DELETED
    )


async def test_s3_never_deletes_an_object_outside_the_bots_prefix(
    request: pytest.FixtureRequest,
    s3_settings: Callable[..., Settings],
    client: DashScopeClient,
    session: aiohttp.ClientSession,
) -> None:
    admin: Any = request.getfixturevalue("s3_admin")
    bucket: str = request.getfixturevalue("bucket")
    admin.put_object(Bucket=bucket, Key="backups/db.sqlite3", Body=b"the operator's own")
    settings = s3_settings()
    async with open_media_host(settings, client=client, session=session) as host:
        url = f"{settings.emo_s3_endpoint}".rstrip("/") + f"/{bucket}/backups/db.sqlite3"
        assert await host.delete(url) is Removal.KEPT
        other_bucket = f"{settings.emo_s3_endpoint}".rstrip("/") + "/another/emo-bot/x.jpg"
        assert await host.delete(other_bucket) is Removal.KEPT
    assert admin.get_object(Bucket=bucket, Key="backups/db.sqlite3")["Body"].read()


async def test_s3_deletions_are_signed_and_refusals_are_typed(
    s3_settings: Callable[..., Settings],
    s3_gate: SigV4Gate,
    client: DashScopeClient,
    session: aiohttp.ClientSession,
    jpeg_bytes: bytes,
) -> None:
    async with open_media_host(s3_settings(), client=client, session=session) as host:
        url = await host.publish(
            jpeg_bytes, model=SYNTHESIS_MODEL, filename="job9-face.jpg", content_type="image/jpeg"
        )
        assert await host.delete(url) is Removal.DELETED
    deletions = [record for record in s3_gate.records if record.method == "DELETE"]
    assert [record.verdict for record in deletions] == ["ok"]  # botocore agrees with us

    wrong = s3_settings(emo_s3_secret_access_key="not-the-secret-0123456789")
    async with open_media_host(wrong, client=client, session=session) as host:
        with pytest.raises(MediaHostError, match="SignatureDoesNotMatch"):
            await host.delete(url)

    away = s3_settings(emo_s3_endpoint=f"http://127.0.0.1:{free_port()}")
    async with open_media_host(away, client=client, session=session) as host:
        away_url = url.replace(s3_gate.url, str(away.emo_s3_endpoint).rstrip("/"))
        with pytest.raises(ProviderTransientError):
            await host.delete(away_url)
