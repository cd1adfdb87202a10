"""The bot's own media server, over real HTTP on loopback: signed links, expiry, no escapes."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import os
import stat
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

from bot.media.hosting import MediaHostError, open_media_host
from bot.media.hosting.http import KEY_FILE, HttpMediaHost
from bot.provider.client import DashScopeClient
from bot.provider.models import DETECT_MODEL, SYNTHESIS_MODEL
from bot.settings import MediaHostKind, Settings
from tests.bot.media.hosting.conftest import SettingsFactory

pytestmark = pytest.mark.timeout(20)

OUTSIDE_MARKER = b"OUTSIDE-THE-HOSTED-DIRECTORY"
PLANTED = "A" * 20 + ".jpg"


@dataclass
class Clock:
    """A settable unix clock."""

    now: float

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1_900_000_000.0)


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(MediaHostKind.HTTP)


@pytest.fixture
async def start_host(clock: Clock) -> AsyncIterator[Callable[[Settings], Any]]:
    """Start hosts from settings on the test's clock; all are closed at the end."""
    started: list[HttpMediaHost] = []

    async def start(settings: Settings) -> HttpMediaHost:
        host = await HttpMediaHost.from_settings(settings, clock=clock)
        await host.start()
        started.append(host)
        return host

    yield start
    for host in started:
        await host.close()


@pytest.fixture
async def host(start_host: Callable[[Settings], Any], settings: Settings) -> HttpMediaHost:
    started: HttpMediaHost = await start_host(settings)
    return started


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file next to the data directory that must never be served."""
    path = tmp_path / "outside.jpg"
    path.write_bytes(OUTSIDE_MARKER)
    return path


async def raw_get(port: int, target: str, method: str = "GET") -> tuple[int, bytes]:
    """Send ``target`` exactly as written (no client-side normalisation); status and body."""
    async with asyncio.timeout(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            request = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            writer.write(request.encode())
            await writer.drain()
            answer = await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def target_of(url: str) -> str:
    """Path and query of a link, as the client would send them."""
    parsed = URL(url, encoded=True)
    return f"{parsed.raw_path}?{parsed.raw_query_string}"


def port_of(host: HttpMediaHost) -> int:
    assert host.port is not None
    return host.port


# ----------------------------------------------------------------- serving


async def test_a_valid_link_serves_the_exact_bytes(
    host: HttpMediaHost,
    session: aiohttp.ClientSession,
    settings: Settings,
    jpeg_bytes: bytes,
    mp3_bytes: bytes,
) -> None:
    image = await host.publish(
        jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
    )
    audio = await host.publish(
        mp3_bytes, model=SYNTHESIS_MODEL, filename="voice.mp3", content_type="audio/mpeg"
    )

    assert image.startswith(f"{str(settings.emo_public_base_url).rstrip('/')}/media/")
    for url, data, content_type in (
        (image, jpeg_bytes, "image/jpeg"),
        (audio, mp3_bytes, "audio/mpeg"),
    ):
        async with session.get(url) as response:
            assert response.status == 200
            assert await response.read() == data
            assert response.headers["Content-Type"] == content_type
            assert response.headers["Content-Length"] == str(len(data))
            assert response.headers["Cache-Control"] == "private"
    async with session.head(image) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(jpeg_bytes))
        assert await response.read() == b""


async def test_stored_names_are_random_and_never_the_filename(
    host: HttpMediaHost, settings: Settings, jpeg_bytes: bytes
) -> None:
    url = await host.publish(
        jpeg_bytes, model=DETECT_MODEL, filename="member-selfie.jpg", content_type="image/jpeg"
    )

    (stored,) = (settings.media_dir / "hosted").iterdir()
    assert "member" not in stored.name
    assert URL(url).name == stored.name
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url[:-1] + ("0" if url[-1] != "0" else "1"),
        lambda url: url.split("&sig=")[0],
        lambda url: url.split("?")[0],
        lambda url: url.replace("exp=", "exp=1"),
        lambda url: url.replace(".jpg?", ".mp3?"),
    ],
    ids=["signature", "no-signature", "no-query", "later-expiry", "other-name"],
)
async def test_a_tampered_link_is_refused(
    host: HttpMediaHost,
    session: aiohttp.ClientSession,
    jpeg_bytes: bytes,
    tamper: Callable[[str], str],
) -> None:
    url = await host.publish(
        jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
    )

    async with session.get(tamper(url)) as response:
        assert response.status == 403
        assert await response.read() != jpeg_bytes


async def test_an_expired_link_is_refused(
    host: HttpMediaHost,
    session: aiohttp.ClientSession,
    settings: Settings,
    clock: Clock,
    jpeg_bytes: bytes,
) -> None:
    url = await host.publish(
        jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
    )
    assert f"exp={int(clock.now) + settings.emo_media_url_ttl_seconds}&" in url

    clock.now += settings.emo_media_url_ttl_seconds
    async with session.get(url) as response:
        assert response.status == 200
    clock.now += 1
    async with session.get(url) as response:
        assert response.status == 403
        assert await response.text() == "link expired"


async def test_an_unknown_name_with_a_valid_signature_is_not_found(
    host: HttpMediaHost, session: aiohttp.ClientSession, clock: Clock
) -> None:
    async with session.get(host.link("B" * 24 + ".mp3", int(clock.now) + 60)) as response:
        assert response.status == 404


# ----------------------------------------------------------------- escapes


@pytest.mark.parametrize(
    "target",
    [
        "/media/..%2F..%2Foutside.jpg",
        "/media/..%2f..%2f..%2fetc%2fpasswd",
        "/media/../../outside.jpg",
        "/media/%2e%2e/%2e%2e/outside.jpg",
        "/media/%2e%2e%2f%2e%2e%2foutside.jpg",
        "/media/..%5C..%5Coutside.jpg",
        "/media//etc/passwd",
        "/media/%2Fetc%2Fpasswd",
        f"/media/{KEY_FILE}",
        "/media/../../data/media-link.key",
        "/../outside.jpg",
    ],
)
async def test_path_traversal_is_refused(
    host: HttpMediaHost, outside: Path, settings: Settings, target: str
) -> None:
    status, body = await raw_get(port_of(host), target)

    assert status in (400, 403, 404)
    assert OUTSIDE_MARKER not in body
    key_hex = (settings.emo_data_dir / KEY_FILE).read_text().strip()
    assert key_hex.encode() not in body


@pytest.mark.parametrize(
    "name",
    [
        "../outside.jpg",
        "../../outside.jpg",
        f"../data/{KEY_FILE}",
        "short.jpg",
        "A" * 20 + ".txt",
        "A" * 20 + ".jpg.bak",
        "A" * 65 + ".jpg",
        ".tmp-0123456789abcdef",
        "A" * 20 + ".JPG",
    ],
)
async def test_a_valid_signature_for_a_name_outside_the_pattern_is_not_found(
    host: HttpMediaHost, settings: Settings, outside: Path, clock: Clock, name: str
) -> None:
    if "/" not in name:
        # Present on disk, so only the name check can refuse it (e.g. a partial upload).
        (settings.media_dir / "hosted" / name).write_bytes(OUTSIDE_MARKER)
    link = URL(host.link(name, int(clock.now) + 60))
    target = f"/media/{quote(name, safe='')}?{link.raw_query_string}"

    status, body = await raw_get(port_of(host), target)

    assert status == 404
    assert OUTSIDE_MARKER not in body


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
async def test_planted_links_are_not_followed(
    host: HttpMediaHost,
    session: aiohttp.ClientSession,
    settings: Settings,
    outside: Path,
    clock: Clock,
    kind: str,
) -> None:
    planted = settings.media_dir / "hosted" / PLANTED
    if kind == "symlink":
        planted.symlink_to(outside)
    else:
        os.link(outside, planted)

    async with session.get(host.link(PLANTED, int(clock.now) + 60)) as response:
        assert response.status == 404
        assert OUTSIDE_MARKER not in await response.read()


async def test_only_get_and_head_under_media(
    host: HttpMediaHost, session: aiohttp.ClientSession, jpeg_bytes: bytes
) -> None:
    url = await host.publish(
        jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
    )

    async with session.post(url, data=b"x") as response:
        assert response.status == 405
    async with session.delete(url) as response:
        assert response.status == 405
    async with session.get(url.replace("/media/", "/other/")) as response:
        assert response.status == 404


# ----------------------------------------------------------------- the key


async def test_the_key_file_is_private_and_survives_restarts(
    start_host: Callable[[Settings], Any],
    settings: Settings,
    session: aiohttp.ClientSession,
    jpeg_bytes: bytes,
) -> None:
    first: HttpMediaHost = await start_host(settings)
    url = await first.publish(
        jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
    )
    key_file = settings.emo_data_dir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = bytes.fromhex(key_file.read_text())
    assert len(key) == 32
    await first.close()

    second: HttpMediaHost = await start_host(settings)

    assert bytes.fromhex(key_file.read_text()) == key
    async with session.get(url) as response:
        assert response.status == 200
        assert await response.read() == jpeg_bytes
    await second.close()


async def test_a_configured_secret_signs_the_links(
    make_settings: SettingsFactory,
    start_host: Callable[[Settings], Any],
    session: aiohttp.ClientSession,
    jpeg_bytes: bytes,
    clock: Clock,
) -> None:
    secret = "a-configured-link-secret-0123456789"
    settings = make_settings(MediaHostKind.HTTP, emo_media_link_secret=secret)
    host: HttpMediaHost = await start_host(settings)

    url = URL(
        await host.publish(
            jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
        )
    )

    expected = hmac.new(
        secret.encode(), f"{url.name}\n{url.query['exp']}".encode(), hashlib.sha256
    ).hexdigest()
    assert url.query["sig"] == expected
    assert not (settings.emo_data_dir / KEY_FILE).exists()
    assert secret not in repr(host)
    assert secret not in repr(host.config)


async def test_a_short_configured_secret_is_refused(make_settings: SettingsFactory) -> None:
    settings = make_settings(MediaHostKind.HTTP, emo_media_link_secret="short")
    with pytest.raises(MediaHostError, match="too short") as caught:
        await HttpMediaHost.from_settings(settings)
    assert "short" not in str(caught.value).replace("too short", "")


async def test_a_loose_key_file_is_tightened(
    start_host: Callable[[Settings], Any], settings: Settings
) -> None:
    key_file = settings.emo_data_dir / KEY_FILE
    key_file.parent.mkdir(parents=True)
    key_file.write_text(os.urandom(32).hex())
    key_file.chmod(0o644)

    await start_host(settings)

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


# ----------------------------------------------------------------- housekeeping, factory


async def test_files_are_swept_once_their_links_expired(
    make_settings: SettingsFactory, jpeg_bytes: bytes
) -> None:
    settings = make_settings(MediaHostKind.HTTP)
    host = await HttpMediaHost.from_settings(settings, sweep_interval_seconds=0)
    publish = functools.partial(
        host.publish, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
    )
    hosted = settings.media_dir / "hosted"
    ttl = settings.emo_media_url_ttl_seconds
    expired = hosted / URL(await publish(jpeg_bytes)).name
    alive = hosted / URL(await publish(jpeg_bytes)).name
    os.utime(expired, (time.time() - ttl - 5, time.time() - ttl - 5))
    os.utime(alive, (time.time() - ttl + 60, time.time() - ttl + 60))

    newest = hosted / URL(await publish(jpeg_bytes)).name

    assert sorted(hosted.iterdir()) == sorted([alive, newest])


async def test_the_factory_starts_and_stops_the_server(
    settings: Settings,
    client: DashScopeClient,
    session: aiohttp.ClientSession,
    jpeg_bytes: bytes,
) -> None:
    async with open_media_host(settings, client=client, session=session) as host:
        url = await host.publish(
            jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
        )
        async with session.get(url) as response:
            assert response.status == 200

    with pytest.raises(aiohttp.ClientConnectionError):
        async with session.get(url) as response:
            pass


async def test_a_busy_port_is_a_clear_error(
    settings: Settings, client: DashScopeClient, session: aiohttp.ClientSession
) -> None:
    async with open_media_host(settings, client=client, session=session):
        with pytest.raises(MediaHostError, match="cannot listen"):
            async with open_media_host(settings, client=client, session=session):
                pass
