"""Where a result may be downloaded from: https on 443 from the allowlist at public addresses,
or the configured provider origin as it is; every redirect checked; no bare exception escapes.

A real aiohttp server on 127.0.0.1 stands for the provider's storage; it counts the requests
that reach it, so a refusal is shown to happen before any connection.
"""

from __future__ import annotations

import errno
import ipaddress
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.media.download import (
    DownloadError,
    DownloadRefusedError,
    DownloadStorageError,
    download_to_file,
)
from bot.media.sources import AddressRefusedError, GuardedResolver, SourcePolicy, public_address

BODY = b"v" * 200_000


@dataclass
class Storage:
    """The stand-in storage: its base URL, the requests it saw, where /hop redirects to."""

    url: str = ""
    port: int = 0
    paths: list[str] = field(default_factory=list)
    location: str | None = None


@pytest.fixture
async def storage() -> AsyncIterator[Storage]:
    state = Storage()

    async def serve(request: web.Request) -> web.StreamResponse:
        state.paths.append(request.path)
        if request.path == "/file":
            return web.Response(body=BODY, content_type="video/mp4")
        if request.path == "/hop":
            headers = {} if state.location is None else {"Location": state.location}
            return web.Response(status=302, headers=headers)
        if request.path == "/loop":
            return web.Response(status=302, headers={"Location": "/loop"})
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state.port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{state.port}"
    yield state
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def provider(storage: Storage) -> SourcePolicy:
    """The default result policy, with the test storage as the configured provider."""
    return SourcePolicy.https_from(["*.aliyuncs.com"], trusted_urls=[f"{storage.url}/api/v1"])


async def fetch(
    session: aiohttp.ClientSession, url: str, destination: Path, policy: SourcePolicy
) -> int:
    return await download_to_file(session, url, destination, max_bytes=10**6, policy=policy)


def test_host_patterns_match_names_under_the_domain_only() -> None:
    policy = SourcePolicy.https_from(["*.aliyuncs.com", "results.example.org"])
    for allowed in (
        "dashscope-result-bj.oss-cn-beijing.aliyuncs.com",
        "X.ALIYUNCS.COM.",
        "results.example.org",
    ):
        assert policy.host_allowed(allowed), allowed
    for refused in (
        "aliyuncs.com",
        "evilaliyuncs.com",
        "aliyuncs.com.evil.net",
        "x.results.example.org",
        "example.org",
    ):
        assert not policy.host_allowed(refused), refused


def test_only_public_addresses_are_public() -> None:
    for private in (
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ):
        assert not public_address(ipaddress.ip_address(private)), private
    for public in ("8.8.8.8", "47.93.1.1", "2606:4700::1111"):
        assert public_address(ipaddress.ip_address(public)), public


async def test_the_configured_provider_origin_is_allowed_as_it_is(
    storage: Storage, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    size = await fetch(session, f"{storage.url}/file", tmp_path / "r.mp4", provider(storage))
    assert size == len(BODY)
    assert (tmp_path / "r.mp4").read_bytes() == BODY


@pytest.mark.parametrize(
    ("url", "hosts", "reason"),
    [
        # Another port of the provider's host is another origin: plain http is refused.
        ("http://127.0.0.1:{other}/file", ["*.aliyuncs.com"], "scheme 'http'"),
        ("https://localhost:{port}/file", ["*.aliyuncs.com"], "host 'localhost' is not allowed"),
        ("https://127.0.0.1:{port}/file", ["127.0.0.1"], "port"),
        ("ftp://x.aliyuncs.com/file", ["*.aliyuncs.com"], "scheme 'ftp'"),
    ],
)
async def test_other_origins_are_refused_before_any_connection(
    storage: Storage,
    session: aiohttp.ClientSession,
    tmp_path: Path,
    url: str,
    hosts: list[str],
    reason: str,
) -> None:
    policy = SourcePolicy.https_from(hosts, trusted_urls=[storage.url])
    target = url.format(port=storage.port, other=storage.port + 1)
    with pytest.raises(DownloadRefusedError, match=reason):
        await fetch(session, target, tmp_path / "r.mp4", policy)
    assert storage.paths == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_an_allowed_name_at_a_private_address_is_refused(
    storage: Storage, session: aiohttp.ClientSession, tmp_path: Path, host: str
) -> None:
    # The operator allowed the name; its address (resolved, or literal) is still loopback.
    policy = SourcePolicy(hosts=frozenset({host}), ports=None)
    with pytest.raises(DownloadRefusedError, match="not a public address"):
        await fetch(session, f"https://{host}:{storage.port}/file", tmp_path / "r.mp4", policy)
    assert storage.paths == []


async def test_every_redirect_is_checked_again(
    storage: Storage, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    policy = provider(storage)
    storage.location = "/file"  # the same origin: followed
    assert await fetch(session, f"{storage.url}/hop", tmp_path / "a.mp4", policy) == len(BODY)
    for elsewhere in (
        f"http://localhost:{storage.port}/file",  # the same server under another name
        f"http://127.0.0.1:{storage.port + 1}/file",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
    ):
        storage.location = elsewhere
        with pytest.raises(DownloadRefusedError):
            await fetch(session, f"{storage.url}/hop", tmp_path / "b.mp4", policy)
    assert storage.paths.count("/file") == 1
    with pytest.raises(DownloadRefusedError, match="too many redirects"):
        await fetch(session, f"{storage.url}/loop", tmp_path / "c.mp4", policy)


@pytest.mark.parametrize(
    "location",
    [None, "", "http://[::1", "https://h.aliyuncs.com:99999/x", "http://exa mple.com:x/"],
    ids=["missing", "empty", "open-bracket", "port-too-big", "bad-port"],
)
async def test_a_malformed_location_is_a_typed_refusal(
    storage: Storage, session: aiohttp.ClientSession, tmp_path: Path, location: str | None
) -> None:
    storage.location = location
    with pytest.raises(DownloadRefusedError):
        await fetch(session, f"{storage.url}/hop", tmp_path / "r.mp4", provider(storage))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
async def test_a_full_disk_is_a_typed_error_and_leaves_no_file(
    storage: Storage, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    destination = tmp_path / "result.mp4"
    # Every write to /dev/full fails with ENOSPC, as on a full disk.
    (tmp_path / "result.mp4.part").symlink_to("/dev/full")
    with pytest.raises(DownloadStorageError) as refused:
        await fetch(session, f"{storage.url}/file", destination, provider(storage))
    assert refused.value.errno == errno.ENOSPC
    assert refused.value.permanent
    assert not destination.exists()
    assert list(tmp_path.iterdir()) == []


async def test_an_unwritable_destination_is_a_typed_error(
    storage: Storage, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    (tmp_path / "job-1").write_bytes(b"a file where the folder should be")
    with pytest.raises(DownloadStorageError):
        await fetch(session, f"{storage.url}/file", tmp_path / "job-1" / "r.mp4", provider(storage))


async def test_the_resolver_refuses_private_addresses_when_connecting(
    storage: Storage, tmp_path: Path
) -> None:
    guarded = GuardedResolver(SourcePolicy(hosts=frozenset({"localhost"})))
    with pytest.raises(AddressRefusedError):
        await guarded.resolve("localhost", storage.port)
    await guarded.close()
    # A name that passed its check can still not connect to a private address: the session
    # results are fetched with refuses it when it resolves the name again (DNS rebinding).
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(SourcePolicy(hosts=frozenset({"localhost"})))
    )
    async with aiohttp.ClientSession(connector=connector) as guarded_session:
        with pytest.raises(DownloadRefusedError, match="no public address"):
            await download_to_file(
                guarded_session,
                f"http://localhost:{storage.port}/file",
                tmp_path / "r.mp4",
                max_bytes=10**6,
                allowed_hosts=frozenset({"localhost"}),  # the old check, names only
            )
    assert storage.paths == []
    trusting = GuardedResolver(SourcePolicy.https_from([], trusted_urls=["http://localhost:1"]))
    assert await trusting.resolve("localhost", storage.port)
    await trusting.close()


async def test_a_name_that_does_not_resolve_now_is_worth_another_try(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    policy = SourcePolicy(hosts=frozenset({"results.invalid"}))  # .invalid never resolves
    with pytest.raises(DownloadError) as failed:
        await fetch(session, "https://results.invalid/v.mp4", tmp_path / "r.mp4", policy)
    assert not isinstance(failed.value, DownloadRefusedError)
    assert not failed.value.permanent
