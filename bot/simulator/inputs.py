"""Fetching a task's inputs as the provider does: oss:// from its storage, else a download."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from yarl import URL

from .accounts import Account
from .context import SimContext
from .errors import ApiError

log = logging.getLogger(__name__)

DOWNLOAD_FAILED = "Unable to download the media resource during the data inspection process."
DOWNLOAD_TIMEOUT = "Download the media resource timed out during the data inspection process."
NOT_ACCESSIBLE = "The media resource is not accessible."


class InputFetcher:
    """Gets the bytes behind an image_url or audio_url, with the provider's errors."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx

    async def fetch(self, url: str, account: Account, model: str, resolve: bool) -> bytes:
        """Get an input the way the provider does: oss:// from its storage, else download it."""
        if url.startswith("oss://"):
            if not resolve:
                raise ApiError(
                    400,
                    "InvalidParameter.DataInspection",
                    f"{DOWNLOAD_FAILED} oss:// URLs need the header "
                    "X-DashScope-OssResourceResolve: enable.",
                )
            state = self.ctx.state
            record = state.uploads.get(url.removeprefix("oss://"))
            if (
                record is None
                or record.account != account.account_id
                or record.model != model
                or record.expires_at < state.clock.now()
            ):
                raise ApiError(400, "InvalidParameter.DataInspection", NOT_ACCESSIBLE)
            try:
                return await asyncio.to_thread(record.path.read_bytes)
            except OSError as exc:
                raise ApiError(400, "InvalidParameter.DataInspection", NOT_ACCESSIBLE) from exc
        try:
            parsed = URL(url)
        except ValueError as exc:
            raise ApiError(400, "InvalidParameter", f"The URL is not valid: {url!r}.") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ApiError(400, "InvalidParameter", f"The URL is not valid: {url!r}.")
        return await self._download(url)

    async def _download(self, url: str) -> bytes:
        session = self.ctx.session
        if session is None:
            raise ApiError(500, "InternalError", "The simulator is not started.")
        knobs = self.ctx.state.knobs
        cap = knobs.upload_max_file_size_mb * 1024 * 1024
        timeout = aiohttp.ClientTimeout(total=knobs.download_timeout_seconds)
        try:
            async with session.get(url, timeout=timeout) as resp:
                if resp.status != 200:
                    raise ApiError(400, "InvalidParameter.DataInspection", DOWNLOAD_FAILED)
                buf = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    buf += chunk
                    if len(buf) > cap:
                        raise ApiError(
                            400,
                            "InvalidParameter.DataInspection",
                            "The media resource is too large.",
                        )
                return bytes(buf)
        except TimeoutError as exc:
            raise ApiError(400, "InvalidParameter.DataInspection", DOWNLOAD_TIMEOUT) from exc
        except aiohttp.ClientError as exc:
            raise ApiError(400, "InvalidParameter.DataInspection", DOWNLOAD_FAILED) from exc
