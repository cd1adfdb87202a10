"""A recording HTTP proxy on 127.0.0.1: forwards every request to a target and keeps it.

Two clients (the official ``dashscope`` SDK and the bot's) are pointed at it in turn, so a
test can compare what each sends for the same call. Answers are passed back unchanged, but
for the target's own address in their bodies, rewritten to the proxy's so that follow-up
requests (an upload host, a result URL) come through it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

# Hop-by-hop headers, and those the transport rewrites: not the client's to compare.
_TRANSPORT_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding"}
)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass
class RecordingProxy:
    target: str  # e.g. http://127.0.0.1:PORT (the simulator's root)
    recorded: list[Recorded] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None
    root: str = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.root = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def take(self) -> list[Recorded]:
        """The requests recorded so far, forgotten here."""
        taken, self.recorded = self.recorded, []
        return taken

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.recorded.append(
            Recorded(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers={
                    name.lower(): value
                    for name, value in request.headers.items()
                    if name.lower() not in _TRANSPORT_HEADERS
                },
                body=body,
            )
        )
        assert self._session is not None
        headers = CIMultiDict(
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in _TRANSPORT_HEADERS
        )
        async with self._session.request(
            request.method,
            f"{self.target}{request.path_qs}",
            data=body if body else None,
            headers=headers,
            skip_auto_headers=("Content-Type",) if "content-type" not in headers else (),
            allow_redirects=False,
        ) as answer:
            payload = await answer.read()
            kept = {
                name: value
                for name, value in answer.headers.items()
                if name.lower() not in _TRANSPORT_HEADERS | {"content-encoding"}
            }
        if self.target.encode() in payload:
            payload = payload.replace(self.target.encode(), self.root.encode())
        return web.Response(status=answer.status, body=payload, headers=kept)
