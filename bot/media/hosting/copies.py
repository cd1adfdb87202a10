"""One stored copy of a file published for several models.

S3 and http links are not bound to a model (DashScope's are), yet preparation publishes the
image once for the face check and once for the render. When the same file (same name, same
content type, same bytes) is published for another model within a few minutes, it gets the
URL of the copy already stored, so the one URL a job keeps reaches every copy there is, and
retention and ``/emo forget`` delete the file for good. The same model publishing the same
file again gets a fresh copy, as before.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

WINDOW_SECONDS = 600.0  # a preparation publishes its files within seconds of each other
LIMIT = 256  # entries remembered at most (oldest forgotten first)

_Key = tuple[str, str, bytes]


@dataclass
class _Copy:
    url: asyncio.Future[str]
    at: float
    models: set[str] = field(default_factory=set)


class SharedCopies:
    """Remembers recent publishes by content, so another model's publish reuses the copy."""

    def __init__(
        self,
        *,
        window_seconds: float = WINDOW_SECONDS,
        limit: int = LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window_seconds
        self._limit = limit
        self._clock = clock
        self._copies: dict[_Key, _Copy] = {}

    async def publish(
        self,
        data: bytes,
        *,
        model: str,
        filename: str,
        content_type: str,
        store: Callable[[], Awaitable[str]],
    ) -> str:
        """The URL of the stored copy of ``data`` for ``model``: the copy another model's
        publish stored (or is storing), else a new one ``store`` makes."""
        key = (filename, content_type, hashlib.sha256(data).digest())
        self._forget_old()
        known = self._copies.get(key)
        if known is not None and model not in known.models:
            known.models.add(model)
            # Shielded: a caller given up must not cancel the store the others wait for.
            return await asyncio.shield(known.url)
        copy = _Copy(url=asyncio.get_running_loop().create_future(), at=self._clock())
        copy.models.add(model)
        self._copies[key] = copy
        try:
            url = await store()
        except BaseException as error:
            if self._copies.get(key) is copy:
                del self._copies[key]
            if isinstance(error, asyncio.CancelledError):
                copy.url.cancel()
            else:
                copy.url.set_exception(error)
                copy.url.exception()  # retrieved: no "never retrieved" warning if none waits
            raise
        copy.url.set_result(url)
        return url

    def __len__(self) -> int:
        """Files remembered now."""
        return len(self._copies)

    def _forget_old(self) -> None:
        cutoff = self._clock() - self._window
        for key in [key for key, copy in self._copies.items() if copy.at < cutoff]:
            del self._copies[key]
        while len(self._copies) >= self._limit:
            del self._copies[next(iter(self._copies))]
