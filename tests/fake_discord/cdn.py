"""The fake CDN: signed, expiring attachment URLs like Discord's (?ex=&is=&hm=)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

if TYPE_CHECKING:
    from .state import DiscordState


def signature(
    secret: bytes, channel_id: int, attachment_id: int, filename: str, ex: str, is_: str
) -> str:
    """HMAC over the path and both timestamps, so neither can be changed without detection."""
    message = f"{channel_id}/{attachment_id}/{filename}|{ex}|{is_}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signed_path(
    secret: bytes, channel_id: int, attachment_id: int, filename: str, lifetime: float
) -> str:
    """Path and query of a fresh signed attachment URL (without scheme and host)."""
    now = int(time.time())
    ex = f"{int(now + lifetime):x}"
    is_ = f"{now:x}"
    hm = signature(secret, channel_id, attachment_id, filename, ex, is_)
    return f"/attachments/{channel_id}/{attachment_id}/{quote(filename)}?ex={ex}&is={is_}&hm={hm}"


class Cdn:
    """Serves stored attachment bytes; 404 unknown, 403 bad signature or expired."""

    def __init__(self, state: DiscordState) -> None:
        self.state = state

    async def handle(self, request: web.Request) -> web.StreamResponse:
        state = self.state
        state.cdn_requests.append(request.path_qs)
        try:
            channel_id = int(request.match_info["channel_id"])
            attachment_id = int(request.match_info["attachment_id"])
        except ValueError:
            return web.Response(status=404, text="Not Found")
        filename = request.match_info["filename"]
        blob = state.blobs.get(attachment_id)
        if blob is None or blob.channel_id != channel_id or blob.filename != filename:
            return web.Response(status=404, text="Not Found")
        ex = request.query.get("ex", "")
        is_ = request.query.get("is", "")
        hm = request.query.get("hm", "")
        expected = signature(state.cdn_secret, channel_id, attachment_id, filename, ex, is_)
        if not hmac.compare_digest(expected, hm):
            return web.Response(status=403, text="This content is no longer available.")
        try:
            expires = int(ex, 16)
        except ValueError:
            return web.Response(status=403, text="This content is no longer available.")
        if time.time() > expires:
            return web.Response(status=403, text="This content is no longer available.")
        return web.Response(
            body=blob.data,
            headers={
                "Content-Type": blob.content_type or "application/octet-stream",
                "Cache-Control": "public, max-age=31536000",
            },
        )
