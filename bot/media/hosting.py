"""Re-hosting inputs where the provider, in mainland China, can fetch them."""

from __future__ import annotations

from typing import Protocol

from bot.provider.client import DashScopeClient


class MediaHost(Protocol):
    """Publishes a prepared file and returns a URL the given provider model may read."""

    async def publish(self, data: bytes, *, model: str, filename: str, content_type: str) -> str:
        """Store ``data`` and return a URL for ``model``."""
        ...


class DashScopeTemporaryHost:
    """DashScope's own temporary storage: ``oss://`` URLs bound to one model, valid 48 h."""

    def __init__(self, client: DashScopeClient) -> None:
        self._client = client

    async def publish(self, data: bytes, *, model: str, filename: str, content_type: str) -> str:
        return await self._client.upload_temporary(
            data, model=model, filename=filename, content_type=content_type
        )
