"""Downloads with a hard size cap, from where a policy allows, each redirect checked again.

Every way a download can fail is a ``DownloadError`` (its subclasses say which), never a
bare ``ValueError`` from a malformed ``Location`` or an ``OSError`` from a full disk.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection
from pathlib import Path
from typing import BinaryIO

import aiohttp
from yarl import URL

from bot.media.sources import AddressRefusedError, SourcePolicy, SourceRefusedError

log = logging.getLogger(__name__)

_MAX_REDIRECTS = 3
_CHUNK = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)


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

    @property
    def permanent(self) -> bool:
        """Trying the same download again cannot help."""
        return self.gone


class DownloadTooLargeError(DownloadError):
    """The body grew past the cap; nothing beyond the cap was read."""

    @property
    def permanent(self) -> bool:
        return True


class DownloadRefusedError(DownloadError):
    """The URL, or a redirect, leads where the policy does not allow, or is malformed."""

    @property
    def permanent(self) -> bool:
        return True


class DownloadStorageError(DownloadError):
    """The file could not be written here (the disk is full, a permission): ``errno``."""

    def __init__(self, reason: str, *, errno: int | None) -> None:
        super().__init__(reason)
        self.errno = errno

    @property
    def permanent(self) -> bool:
        return True


def _legacy_check(url: URL, allowed_hosts: Collection[str] | None) -> None:
    if url.scheme not in ("http", "https"):
        raise DownloadRefusedError(f"scheme {url.scheme!r} is not allowed")
    if allowed_hosts is not None and (url.host or "").lower() not in allowed_hosts:
        raise DownloadRefusedError(f"host {url.host!r} is not allowed")


async def _check(
    url: URL, policy: SourcePolicy | None, allowed_hosts: Collection[str] | None
) -> None:
    if policy is None:
        _legacy_check(url, allowed_hosts)
        return
    try:
        policy.check_url(url)
        await policy.check_addresses(url)
    except SourceRefusedError as error:
        raise DownloadRefusedError(error.reason) from None
    except OSError as error:  # the name does not resolve now: tried again, like a timeout
        raise DownloadError(f"host {url.raw_host!r} does not resolve ({error})") from None


def _next_hop(current: URL, location: str | None) -> URL:
    """Where a redirect leads; DownloadRefusedError when its ``Location`` is malformed."""
    if not location or not location.strip():
        raise DownloadRefusedError("a redirect without a Location")
    try:
        target = current.join(URL(location.strip()))
        _ = (target.scheme, target.raw_host, target.port)  # yarl may only fail when asked
    except ValueError:  # UnicodeError (a bad IDNA name) included
        raise DownloadRefusedError("a redirect with a malformed Location") from None
    return target


async def download_to_file(
    session: aiohttp.ClientSession,
    url: str,
    destination: Path,
    *,
    max_bytes: int,
    allowed_hosts: Collection[str] | None = None,
    policy: SourcePolicy | None = None,
    timeout_seconds: float = 120.0,
) -> int:
    """Stream ``url`` into ``destination``; return the byte count.

    ``policy`` decides where the download may go; without one, ``allowed_hosts`` names the
    hosts (None: any) over http or https. Redirects are followed by hand so each hop is
    checked the same way. Raises DownloadError (or a subclass) and nothing else but
    cancellation.
    """
    try:
        target = URL(url)
    except ValueError:
        raise DownloadRefusedError("a malformed URL") from None
    timeout = aiohttp.ClientTimeout(total=timeout_seconds, sock_read=30)
    for _ in range(_MAX_REDIRECTS + 1):
        await _check(target, policy, allowed_hosts)
        try:
            async with session.get(target, allow_redirects=False, timeout=timeout) as response:
                if response.status in _REDIRECTS:
                    target = _next_hop(target, response.headers.get("Location"))
                    continue
                if response.status != 200:
                    raise DownloadError(f"HTTP {response.status}", status=response.status)
                declared = response.content_length
                if declared is not None and declared > max_bytes:
                    raise DownloadTooLargeError(f"{declared} bytes declared")
                return await _stream(response, destination, max_bytes)
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, AddressRefusedError):
                raise DownloadRefusedError(str(error.os_error)) from None
            raise DownloadError(type(error).__name__) from None
        except aiohttp.InvalidURL:
            raise DownloadRefusedError("a malformed URL") from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DownloadError(type(error).__name__) from None
    raise DownloadRefusedError("too many redirects")


async def _stream(response: aiohttp.ClientResponse, destination: Path, max_bytes: int) -> int:
    partial = destination.with_suffix(destination.suffix + ".part")
    received = 0
    try:
        sink = _open(partial)
        try:
            async for chunk in response.content.iter_chunked(_CHUNK):
                received += len(chunk)
                if received > max_bytes:
                    raise DownloadTooLargeError(f"more than {max_bytes} bytes")
                _write(sink, chunk)
        finally:
            _close(sink)
        try:
            partial.replace(destination)
        except OSError as error:
            raise _storage(error) from None
    finally:
        with contextlib.suppress(OSError):  # nothing was written, or the folder is gone
            partial.unlink()
    return received


def _storage(error: OSError) -> DownloadStorageError:
    return DownloadStorageError(
        f"cannot write the file: {error.strerror or type(error).__name__}", errno=error.errno
    )


def _open(partial: Path) -> BinaryIO:
    try:
        partial.parent.mkdir(parents=True, exist_ok=True)
        return partial.open("wb")
    except OSError as error:
        raise _storage(error) from None


def _write(sink: BinaryIO, chunk: bytes) -> None:
    try:
        sink.write(chunk)
    except OSError as error:
        raise _storage(error) from None


def _close(sink: BinaryIO) -> None:
    try:
        sink.close()
    except OSError as error:
        raise _storage(error) from None
