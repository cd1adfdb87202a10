"""DashScope's own temporary storage: ``oss://`` URLs bound to one model, valid 48 h.

DashScope offers no way to delete an upload: each one expires by itself 48 h after it was
made. Retention and ``/emo forget`` clear the URLs the bot keeps, and the files go at expiry.
"""

from __future__ import annotations

from bot.media.hosting import Removal, safe_name
from bot.provider.client import DashScopeClient


class DashScopeTemporaryHost:
    """Uploads through getPolicy + form POST. Every request using the URL must send the
    ``X-DashScope-OssResourceResolve`` header, which the client adds for ``oss://`` URLs."""

    def __init__(self, client: DashScopeClient) -> None:
        self._client = client

    async def publish(self, data: bytes, *, model: str, filename: str, content_type: str) -> str:
        # The name becomes part of the object key: keep it to safe characters.
        return await self._client.upload_temporary(
            data, model=model, filename=safe_name(filename), content_type=content_type
        )

    async def delete(self, url: str) -> Removal:
        """Nothing to do: DashScope's storage cannot delete; the file expires within 48 h."""
        return Removal.KEPT
