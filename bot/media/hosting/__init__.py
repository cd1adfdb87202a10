"""Re-hosting prepared inputs where the provider, in mainland China, can fetch them.

One small interface, three backends chosen by ``EMO_MEDIA_HOST``: publish a file, and delete
it again when retention or ``/emo forget`` says so. DashScope's temporary storage has no
delete: its ``oss://`` files expire by themselves 48 h after the upload.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import re
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Protocol, assert_never

import aiohttp

from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderOperatorError
from bot.settings import MediaHostKind, Settings

log = logging.getLogger(__name__)


class Removal(enum.StrEnum):
    """What ``MediaHost.delete`` did with a URL."""

    DELETED = "deleted"
    ABSENT = "absent"  # nothing was there any more (deleted before, or expired)
    KEPT = "kept"  # not this host's to delete: DashScope's own storage (it expires in 48 h),
    # or a URL of another backend (EMO_MEDIA_HOST changed since)


class MediaHost(Protocol):
    """Publishes a prepared file and returns a URL the given provider model may read."""

    async def publish(self, data: bytes, *, model: str, filename: str, content_type: str) -> str:
        """Store ``data``; return a URL for ``model``. ``filename`` is ours, never a member's."""
        ...

    async def delete(self, url: str) -> Removal:
        """Delete the file behind ``url``, a URL this host published. Raises MediaHostError
        when the host refuses (permissions), ProviderTransientError when it may work later."""
        ...


class MediaHostError(ProviderOperatorError):
    """The media host refused for a reason retrying will not fix (credentials, bucket, config).

    An operator problem like a bad API key: the job fails without charge and the log says why.
    The message is meant for the operator and never holds a secret key or a signature.
    """

    def __init__(self, message: str, *, code: str = "", status: int | None = None) -> None:
        super().__init__(code or "MediaHostError", message, status=status)
        self.args = (message,)


_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(filename: str) -> str:
    """Our filename reduced to a harmless last path segment: [A-Za-z0-9._-], no '..'."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    name = _UNSAFE_NAME_CHARS.sub("_", name)
    name = re.sub(r"\.{2,}", ".", name).lstrip("._")
    return name[-64:] or "file"


@contextlib.asynccontextmanager
async def open_media_host(
    settings: Settings, *, client: DashScopeClient, session: aiohttp.ClientSession
) -> AsyncIterator[MediaHost]:
    """The backend ``EMO_MEDIA_HOST`` names, started, and closed on exit."""
    kind = settings.emo_media_host
    if kind is MediaHostKind.DASHSCOPE:
        from bot.media.hosting.dashscope import DashScopeTemporaryHost

        yield DashScopeTemporaryHost(client)
    elif kind is MediaHostKind.S3:
        from bot.media.hosting.s3 import S3Config, S3MediaHost

        host = S3MediaHost(
            session,
            S3Config.from_settings(settings),
            timeout_seconds=settings.emo_http_timeout_seconds,
        )
        log.info("media host: %r", host)
        yield host
    elif kind is MediaHostKind.HTTP:
        from bot.media.hosting.http import HttpMediaHost

        server = await HttpMediaHost.from_settings(settings)
        await server.start()
        try:
            yield server
        finally:
            await server.close()
    else:
        assert_never(kind)
