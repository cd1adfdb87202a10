from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.media.download import DownloadError, DownloadTooLargeError, download_to_file

BODY = b"x" * 300_000


async def _body(_: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="application/octet-stream")


async def _chunked(_: web.Request) -> web.StreamResponse:
    # No Content-Length: only the streamed count can enforce the cap.
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(_)
    for _chunk in range(100):
        await response.write(b"y" * 65536)
    return response


async def _redirect_away(_: web.Request) -> web.Response:
    raise web.HTTPFound("http://localhost:1/elsewhere")


async def _redirect_home(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"http://127.0.0.1:{request.url.port}/file")


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/file", _body)
    app.router.add_get("/chunked", _chunked)
    app.router.add_get("/away", _redirect_away)
    app.router.add_get("/home", _redirect_home)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


ALLOWED = frozenset({"127.0.0.1"})


async def test_downloads_within_the_cap(
    server: str, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    size = await download_to_file(
        session, f"{server}/file", tmp_path / "f", max_bytes=400_000, allowed_hosts=ALLOWED
    )
    assert size == len(BODY)
    assert (tmp_path / "f").read_bytes() == BODY


async def test_a_declared_oversize_body_is_refused_unread(
    server: str, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    with pytest.raises(DownloadTooLargeError):
        await download_to_file(
            session, f"{server}/file", tmp_path / "f", max_bytes=1000, allowed_hosts=ALLOWED
        )
    assert list(tmp_path.iterdir()) == []


async def test_an_undeclared_oversize_body_stops_at_the_cap(
    server: str, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    with pytest.raises(DownloadTooLargeError):
        await download_to_file(
            session, f"{server}/chunked", tmp_path / "f", max_bytes=200_000, allowed_hosts=ALLOWED
        )
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


async def test_hosts_off_the_allowlist_are_refused(
    server: str, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    with pytest.raises(DownloadError, match="not allowed"):
        await download_to_file(
            session,
            f"{server}/file",
            tmp_path / "f",
            max_bytes=10**6,
            allowed_hosts=frozenset({"cdn.discordapp.com"}),
        )
    with pytest.raises(DownloadError, match="not allowed"):
        await download_to_file(
            session, "file:///etc/passwd", tmp_path / "f", max_bytes=10**6, allowed_hosts=None
        )


async def test_redirects_are_checked_hop_by_hop(
    server: str, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    with pytest.raises(DownloadError, match="not allowed"):
        await download_to_file(
            session, f"{server}/away", tmp_path / "f", max_bytes=10**6, allowed_hosts=ALLOWED
        )
    size = await download_to_file(
        session, f"{server}/home", tmp_path / "g", max_bytes=10**6, allowed_hosts=ALLOWED
    )
    assert size == len(BODY)


async def test_missing_files_are_a_download_error(
    server: str, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    with pytest.raises(DownloadError, match="404"):
        await download_to_file(
            session, f"{server}/nope", tmp_path / "f", max_bytes=10**6, allowed_hosts=ALLOWED
        )
