"""Downloads with a hard size cap from an allowlist of hosts."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

import aiohttp
from yarl import URL

log = logging.getLogger(__name__)

_MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


class DownloadError(Exception):
    """The file could not be fetched (network, status, host not allowed). ``status`` is the
    HTTP status the server answered, when it answered one."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

    @property
    def gone(self) -> bool:
        """The server says the file is not there (any more): trying again cannot help."""
        return self.status in (403, 404, 410)


class DownloadTooLargeError(DownloadError):
    """The body grew past the cap; nothing beyond the cap was read."""


def _check_host(url: URL, allowed_hosts: Collection[str] | None) -> None:
    if url.scheme not in ("http", "https"):
        raise DownloadError(f"scheme {url.scheme!r} is not allowed")
    if allowed_hosts is not None and (url.host or "").lower() not in allowed_hosts:
        raise DownloadError(f"host {url.host!r} is not allowed")


async def download_to_file(
    session: aiohttp.ClientSession,
    url: str,
    destination: Path,
    *,
    max_bytes: int,
    allowed_hosts: Collection[str] | None,
    timeout_seconds: float = 120.0,
) -> int:
    """Stream ``url`` into ``destination``; return the byte count.

    Redirects are followed by hand so each hop is checked against ``allowed_hosts``.
    """
    target = URL(url)
    timeout = aiohttp.ClientTimeout(total=timeout_seconds, sock_read=30)
    for _ in range(_MAX_REDIRECTS + 1):
        _check_host(target, allowed_hosts)
        try:
            async with session.get(target, allow_redirects=False, timeout=timeout) as response:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location", "")
                    target = target.join(URL(location))
                    continue
                if response.status != 200:
                    raise DownloadError(f"HTTP {response.status}", status=response.status)
                declared = response.content_length
                if declared is not None and declared > max_bytes:
                    raise DownloadTooLargeError(f"{declared} bytes declared")
                return await _stream(response, destination, max_bytes)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DownloadError(type(error).__name__) from None
    raise DownloadError("too many redirects")


async def _stream(response: aiohttp.ClientResponse, destination: Path, max_bytes: int) -> int:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(destination.suffix + ".part")
    received = 0
    try:
        with partial.open("wb") as sink:
            async for chunk in response.content.iter_chunked(_CHUNK):
                received += len(chunk)
                if received > max_bytes:
                    raise DownloadTooLargeError(f"more than {max_bytes} bytes")
                sink.write(chunk)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return received
