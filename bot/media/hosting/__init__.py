"""Re-hosting prepared inputs where the provider, in mainland China, can fetch them.

One small interface, three backends chosen by ``EMO_MEDIA_HOST``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

import aiohttp

from bot.provider.client import DashScopeClient
from bot.settings import MediaHostKind, Settings


class MediaHost(Protocol):
    """Publishes a prepared file and returns a URL the given provider model may read."""

    async def publish(self, data: bytes, *, model: str, filename: str, content_type: str) -> str:
        """Store ``data``; return a URL for ``model``. ``filename`` is ours, never a member's."""
        ...


@contextlib.asynccontextmanager
async def open_media_host(
    settings: Settings, *, client: DashScopeClient, session: aiohttp.ClientSession
) -> AsyncIterator[MediaHost]:
    """The backend ``EMO_MEDIA_HOST`` names, started, and closed on exit."""
    from bot.media.hosting.dashscope import DashScopeTemporaryHost

    if settings.emo_media_host is MediaHostKind.DASHSCOPE:
        yield DashScopeTemporaryHost(client)
        return
    raise NotImplementedError(settings.emo_media_host.value)
