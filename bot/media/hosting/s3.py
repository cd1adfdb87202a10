"""An S3-compatible bucket (Alibaba OSS, MinIO, AWS): private objects, presigned GET URLs.

AWS Signature Version 4 is implemented in ``s3_signing.py`` with hashlib/hmac, so the bot
needs no AWS SDK. Objects are deleted (DeleteObject) when retention or ``/emo forget`` says
so; the credentials need that permission beside PutObject and GetObject.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from datetime import datetime

import aiohttp
from yarl import URL

from bot.media.hosting import MediaHostError, Removal, safe_name
from bot.media.hosting.copies import SharedCopies
from bot.media.hosting.s3_signing import (
    ALGORITHM,
    KEY_PREFIX,
    SERVICE,
    UNSIGNED_PAYLOAD,
    S3Config,
    S3Signer,
    canonical_request,
    signing_key,
    string_to_sign,
    uri_encode,
)
from bot.provider.errors import ProviderTransientError

log = logging.getLogger(__name__)

__all__ = [
    "ALGORITHM",
    "KEY_PREFIX",
    "SERVICE",
    "UNSIGNED_PAYLOAD",
    "MediaHostError",
    "S3Config",
    "S3MediaHost",
    "S3Signer",
    "canonical_request",
    "safe_name",
    "signing_key",
    "string_to_sign",
    "uri_encode",
]

_ERROR_BODY_LIMIT = 64 * 1024


class S3MediaHost:
    """Uploads with a SigV4-signed PUT Object (private) and answers a presigned GET URL."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: S3Config,
        *,
        clock: Callable[[], datetime] | None = None,
        timeout_seconds: float = 60.0,
    ) -> None:
        self._session = session
        self._signer = S3Signer(config) if clock is None else S3Signer(config, clock=clock)
        self._config = config
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._copies = SharedCopies()

    def __repr__(self) -> str:
        return f"S3MediaHost(endpoint={self._config.endpoint!r}, bucket={self._config.bucket!r})"

    @property
    def signer(self) -> S3Signer:
        return self._signer

    async def publish(self, data: bytes, *, model: str, filename: str, content_type: str) -> str:
        """PUT a private object under a fresh key; return its presigned GET URL.

        ``model`` does not matter here: any caller holding the URL may read the object, so
        the same file published for another model shares the object (``copies.py``).
        """

        async def store() -> str:
            return await self._put(data, model=model, filename=filename, content_type=content_type)

        return await self._copies.publish(
            data, model=model, filename=filename, content_type=content_type, store=store
        )

    async def _put(self, data: bytes, *, model: str, filename: str, content_type: str) -> str:
        signer = self._signer
        now = signer.now()
        key = signer.new_key(filename, now=now)
        target = signer.target(key)
        headers = signer.signed_put_headers(key, data, content_type, now=now)
        try:
            # encoded=True: send exactly the path that was signed, without re-quoting.
            async with self._session.put(
                URL(target.url, encoded=True),
                data=data,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                body = await _read_capped(response, _ERROR_BODY_LIMIT) if status >= 300 else b""
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ProviderTransientError("MediaHostUnavailable", type(error).__name__) from None
        if status >= 300:
            raise self._error(status, body, key)
        log.debug("stored s3 object %s (%d bytes, %s) for %s", key, len(data), content_type, model)
        return signer.presign_get(key, now=now)

    async def delete(self, url: str) -> Removal:
        """DeleteObject on the object one of our presigned URLs names (KEPT: not ours)."""
        key = self._signer.key_of(url)
        if key is None:
            return Removal.KEPT
        target = self._signer.target(key)
        headers = self._signer.signed_headers("DELETE", key)
        try:
            async with self._session.delete(
                URL(target.url, encoded=True),
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                body = await _read_capped(response, _ERROR_BODY_LIMIT) if status >= 300 else b""
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ProviderTransientError("MediaHostUnavailable", type(error).__name__) from None
        if status == 404 and _parse_error(body)[0] in ("NoSuchKey", ""):
            return Removal.ABSENT
        if status >= 300:
            raise self._error(status, body, key, action="a deletion in")
        # S3 answers 204 whether the object was there or not.
        log.debug("deleted s3 object %s", key)
        return Removal.DELETED

    def _error(
        self, status: int, body: bytes, key: str, *, action: str = "the upload to"
    ) -> Exception:
        code, message = _parse_error(body)
        code = code or f"HTTP{status}"
        message = self._scrub(message)[:200]
        if status >= 500 or status in (408, 429) or code in ("SlowDown", "RequestTimeout"):
            return ProviderTransientError(
                "MediaHostUnavailable", f"{code}: {message}", status=status
            )
        return MediaHostError(
            f"S3 refused {action} bucket {self._config.bucket!r} "
            f"(HTTP {status} {code}){': ' + message if message else ''}",
            code=code,
            status=status,
        )

    def _scrub(self, text: str) -> str:
        # A server may echo request details; never let the secret or a signature through.
        text = text.replace(self._config.secret_access_key.get_secret_value(), "***")
        return re.sub(r"[0-9a-f]{64}", "***", text)


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """At most ``limit`` bytes of the body: an error page is read, never an endless stream."""
    body = bytearray()
    while len(body) < limit and (chunk := await response.content.read(limit - len(body))):
        body += chunk
    return bytes(body)


def _parse_error(body: bytes) -> tuple[str, str]:
    """``(Code, Message)`` of an S3 XML error body, or empty strings."""
    if not body.strip():
        return "", ""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return "", ""
    found = {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in root}
    return found.get("Code", ""), found.get("Message", "")
