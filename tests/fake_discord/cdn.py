"""The fake CDN: signed, expiring attachment URLs like Discord's (?ex=&is=&hm=), and avatars."""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import struct
import time
import zlib
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

if TYPE_CHECKING:
    from .state import DiscordState


# Discord has six default avatars: /embed/avatars/0.png ... 5.png.
DEFAULT_AVATARS = 6
_AVATAR_EXTENSIONS = {"png", "jpg", "jpeg", "webp"}
_CACHE = "public, max-age=31536000"


def image_type(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG or WebP bytes (from their magic numbers), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height when the bytes are an image Pillow can identify from its header."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            return int(width), int(height)
    except Exception:
        return None


@functools.cache
def default_avatar_png(index: int, side: int = 64) -> bytes:
    """A small valid PNG in one colour per index (stands in for Discord's default avatars)."""
    colour = bytes([(88 + 40 * index) % 256, 101, 242 - 30 * index])
    raw = (b"\x00" + colour * side) * side  # filter byte 0, then RGB pixels, per row

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


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
                "Cache-Control": _CACHE,
            },
        )

    async def avatar(self, request: web.Request) -> web.StreamResponse:
        """GET /avatars/{user_id}/{hash}.{png|jpg|jpeg|webp}[?size=N]: the stored image.

        The stored bytes are served whatever extension was asked for (Discord converts);
        the Content-Type says what they really are. `size` is accepted and ignored.
        """
        self.state.cdn_requests.append(request.path_qs)
        avatar, _, extension = request.match_info["filename"].rpartition(".")
        try:
            user_id = int(request.match_info["user_id"])
        except ValueError:
            return web.Response(status=404, text="Not Found")
        data = self.state.avatars.get((user_id, avatar))
        if data is None or extension.lower() not in _AVATAR_EXTENSIONS:
            return web.Response(status=404, text="Not Found")
        content_type = image_type(data) or "application/octet-stream"
        return web.Response(
            body=data, headers={"Content-Type": content_type, "Cache-Control": _CACHE}
        )

    async def default_avatar(self, request: web.Request) -> web.StreamResponse:
        """GET /embed/avatars/{n}.png for n in 0..5 (discord.py: (user_id >> 22) % 6)."""
        self.state.cdn_requests.append(request.path_qs)
        index = request.match_info["index"]
        if not index.isdigit() or int(index) >= DEFAULT_AVATARS:
            return web.Response(status=404, text="Not Found")
        body = default_avatar_png(int(index))
        return web.Response(
            body=body, headers={"Content-Type": "image/png", "Cache-Control": _CACHE}
        )
