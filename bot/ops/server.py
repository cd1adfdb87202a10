"""The internal ops server: GET /healthz, /readyz and /metrics (Prometheus), no authentication.

It listens on ``EMO_OPS_BIND`` (127.0.0.1 by default). A port that cannot be bound is logged
and the bot runs on without it: videos matter more than their metrics, and a missing
/readyz is noticed by whatever probes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot.clock import utcnow
from bot.db.meta import MetaStore
from bot.errors import QuietError
from bot.jobs.gate import PauseReader
from bot.jobs.repository import JobRepository
from bot.ops.metrics import CONTENT_TYPE, Metrics
from bot.settings import BIND_OFF, split_bind

log = logging.getLogger(__name__)

PING_KEY = "ops_ping"
DATABASE_CHECK_SECONDS = 5.0
WRITE_CHECK_SECONDS = 60.0
"""/readyz reads the database on every hit, and writes (the ``ops_ping`` value) at most this
often: a probe every few seconds must not keep the writer busy, nor grow the WAL."""
WRITE_RETRY_SECONDS = 5.0  # after a failed write: the next try (hits in between say 503)


GatewayCheck = Callable[[], bool]


def parse_bind(bind: str) -> tuple[str, int] | None:
    """``host:port`` as a pair; None when the server is off ("" or "off")."""
    if bind.strip().lower() in BIND_OFF:
        return None
    return split_bind(bind)


class OpsServer:
    """Serves health, readiness and metrics for one core."""

    def __init__(
        self,
        *,
        bind: str,
        metrics: Metrics,
        jobs: JobRepository,
        meta: MetaStore,
        gate: PauseReader,
        write_every: float = WRITE_CHECK_SECONDS,
        write_retry: float = WRITE_RETRY_SECONDS,
    ) -> None:
        self._address = parse_bind(bind)
        self._metrics = metrics
        self._jobs = jobs
        self._meta = meta
        self._gate = gate
        # Without Discord (the command line) there is no gateway to wait for.
        self._gateway_check: GatewayCheck = lambda: True
        self._runner: web.AppRunner | None = None
        self.port: int | None = None  # the bound port, once listening
        self._write_every = write_every
        self._write_retry = write_retry
        self._wrote: bool | None = None  # the last write check: None before the first
        self._write_due = 0.0  # loop time of the next write check

    def set_gateway_check(self, check: GatewayCheck) -> None:
        """Tell /readyz how to know the Discord gateway is connected."""
        self._gateway_check = check

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[OpsServer]:
        """Listen for the duration of the block (if a bind address is set)."""
        await self.start()
        try:
            yield self
        finally:
            await self.close()

    def _build(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        return app

    async def start(self) -> None:
        if self._address is None:
            return
        host, port = self._address
        runner = web.AppRunner(self._build(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except (OSError, OverflowError) as error:  # in use, not ours, or no such port
            await runner.cleanup()
            log.error(
                "ops server cannot listen on %s:%d (%s); running without it", host, port, error
            )
            return
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("ops server listening on %s:%d (/healthz, /readyz, /metrics)", host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self.port = None

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        try:
            gateway = bool(self._gateway_check())
        except Exception:
            log.exception("gateway check failed")
            gateway = False
        database = await self._database_ready()
        try:
            provider = "ok" if await self._gate.current() is None else "paused"
        except QuietError:
            provider = "unknown"  # the database is away: the database layer logged it, once
        except Exception:
            log.exception("reading the provider pause failed")
            provider = "unknown"
        body = {"gateway": gateway, "database": database, "provider": provider}
        ready = gateway and database and provider == "ok"
        return web.json_response(body, status=200 if ready else 503)

    async def _database_ready(self) -> bool:
        """A read on every hit; a write when one is due (its outcome stands until the next)."""
        if not await self._check(self._meta.get(PING_KEY), "readable"):
            return False
        now = asyncio.get_running_loop().time()
        if now >= self._write_due:
            # Set before the write: hits meanwhile report the last outcome, not a new write.
            self._write_due = now + self._write_every
            wrote = await self._check(self._meta.set(PING_KEY, utcnow().isoformat()), "writable")
            self._wrote = wrote
            if not wrote:
                self._write_due = asyncio.get_running_loop().time() + self._write_retry
        return bool(self._wrote)

    async def _check(self, query: Awaitable[object], what: str) -> bool:
        try:
            await asyncio.wait_for(query, DATABASE_CHECK_SECONDS)
        except (QuietError, TimeoutError):
            return False  # the database layer logged the outage, once
        except Exception:
            log.exception("database is not %s", what)
            return False
        return True

    async def _metrics_page(self, request: web.Request) -> web.Response:
        await self._metrics.refresh(self._jobs, self._gate)
        response = web.Response(body=self._metrics.render())
        # Set whole: aiohttp's content_type argument refuses a charset parameter.
        response.headers["Content-Type"] = CONTENT_TYPE
        return response
