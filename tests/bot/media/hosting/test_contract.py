"""One contract for every media host, over real HTTP: what it publishes, the provider can read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from bot.media.hosting import MediaHost, open_media_host
from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderError
from bot.provider.models import DETECT_MODEL, SYNTHESIS_MODEL
from bot.settings import MediaHostKind, Settings
from bot.simulator import Simulator
from tests.bot.media.hosting.conftest import SettingsFactory

pytestmark = pytest.mark.timeout(20)


@dataclass
class Backend:
    kind: MediaHostKind
    host: MediaHost
    settings: Settings


@pytest.fixture(params=list(MediaHostKind), ids=lambda kind: kind.value)
def backend_settings(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Settings:
    kind: MediaHostKind = request.param
    if kind is MediaHostKind.S3:
        settings: Settings = request.getfixturevalue("s3_settings")()
        return settings
    return make_settings(kind)


@pytest.fixture
async def backend(
    backend_settings: Settings, client: DashScopeClient, session: aiohttp.ClientSession
) -> AsyncIterator[Backend]:
    """The backend the factory builds from the settings, running until the test ends."""
    async with open_media_host(backend_settings, client=client, session=session) as host:
        yield Backend(backend_settings.emo_media_host, host, backend_settings)


async def read_back(
    backend: Backend, url: str, session: aiohttp.ClientSession, simulator: Simulator
) -> tuple[bytes, str]:
    """The bytes and content type behind a published URL, fetched the way the provider would."""
    if backend.kind is MediaHostKind.DASHSCOPE:
        (record,) = [upload for upload in simulator.uploads if upload.url == url]
        return record.path.read_bytes(), record.content_type or ""
    async with session.get(URL(url, encoded=True)) as response:
        assert response.status == 200, await response.text()
        return await response.read(), response.headers.get("Content-Type", "")


def stored_name(backend: Backend, url: str) -> str:
    """Where the backend stored the file: the oss key, the object path, the served path."""
    if backend.kind is MediaHostKind.DASHSCOPE:
        return url.removeprefix("oss://")
    return URL(url, encoded=True).path


async def test_the_provider_reads_a_published_portrait(
    backend: Backend, client: DashScopeClient, simulator: Simulator, jpeg_bytes: bytes
) -> None:
    url = await backend.host.publish(
        jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
    )
    expected_scheme = "oss" if backend.kind is MediaHostKind.DASHSCOPE else "http"
    assert URL(url).scheme == expected_scheme

    detection = await client.detect_face(url, ratio="1:1")

    assert len(detection.face_bbox) == 4
    assert len(detection.ext_bbox) == 4
    (record,) = simulator.detections
    assert record.image_url == url
    assert record.check_pass


async def test_published_audio_comes_back_byte_identical(
    backend: Backend, session: aiohttp.ClientSession, simulator: Simulator, mp3_bytes: bytes
) -> None:
    url = await backend.host.publish(
        mp3_bytes, model=SYNTHESIS_MODEL, filename="voice.mp3", content_type="audio/mpeg"
    )

    data, content_type = await read_back(backend, url, session, simulator)

    assert data == mp3_bytes
    assert content_type == "audio/mpeg"
    if backend.kind is MediaHostKind.DASHSCOPE:
        assert url.startswith("oss://")
        (record,) = simulator.uploads
        assert record.model == SYNTHESIS_MODEL
        assert record.size == len(mp3_bytes)


async def test_publishes_never_collide(
    backend: Backend, session: aiohttp.ClientSession, simulator: Simulator, jpeg_bytes: bytes
) -> None:
    same = [
        await backend.host.publish(
            jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
        )
        for _ in range(2)
    ]
    other = jpeg_bytes + b"\xff\xd9 a different file"
    changed = await backend.host.publish(
        other, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
    )

    names = {stored_name(backend, url) for url in [*same, changed]}
    assert len(names) == 3
    # The first file was not overwritten by the later ones with the same filename.
    assert (await read_back(backend, same[0], session, simulator))[0] == jpeg_bytes
    assert (await read_back(backend, changed, session, simulator))[0] == other


async def test_a_hostile_filename_never_escapes(
    backend: Backend,
    session: aiohttp.ClientSession,
    simulator: Simulator,
    jpeg_bytes: bytes,
    tmp_path: Path,
) -> None:
    hostile = "../../etc/passwd.jpg"
    try:
        url = await backend.host.publish(
            jpeg_bytes, model=DETECT_MODEL, filename=hostile, content_type="image/jpeg"
        )
    except ProviderError:
        # DashScope's storage refuses a key with '..' (its policy); nothing was stored.
        assert backend.kind is MediaHostKind.DASHSCOPE
        assert not simulator.uploads
        return
    name = stored_name(backend, url)
    assert ".." not in name
    assert "/etc/" not in name
    assert (await read_back(backend, url, session, simulator))[0] == jpeg_bytes
    if backend.kind is MediaHostKind.HTTP:
        hosted = backend.settings.media_dir / "hosted"
        assert [path.name for path in hosted.iterdir()] == [name.rsplit("/", 1)[-1]]
        assert not (tmp_path / "etc").exists()
        assert not (backend.settings.emo_data_dir / "etc").exists()
