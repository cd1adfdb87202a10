"""Start-up against a network that may not be there yet: reach each service, or say why not.

A bot started at boot often runs before the network is up. Before anything starts, each
service the bot needs (Discord, then the provider) is reached once; one that cannot be is
one log line naming its host, the cause and what to check, and is tried again with growing
waits for ``EMO_STARTUP_RETRY_SECONDS``. After that, one final line and ``StartupGaveUpError``:
the process exits with status 1 so that its supervisor (systemd, Docker) starts it again.

What counts as unreachable is decided here, from the exception alone (``unreachable``):
DNS, a refused or dropped connection, a timeout, TLS, and an HTTP error answer (5xx).
Anything else is not a network problem and propagates unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from bot.errors import QuietError
from bot.jobs.repository import JobRepository
from bot.retry import Backoff

log = logging.getLogger(__name__)

START_BACKOFF = Backoff(first=1.0, factor=2.0, cap=30.0, jitter=0.2)
TRY_SECONDS = 30.0  # the longest one try may take (a network that drops packets never answers)
MIN_TRY_SECONDS = 5.0  # even the last try of a short window gets this long
COUNT_SECONDS = 2.0  # the stop's count of unfinished jobs, at most
PROVIDER_PROBE_PATH = "/tasks/emo-bot-startup-probe"  # asked without a key: nothing is billed


class UnreachableError(QuietError):
    """A service could not be reached; ``line`` says where, why, and what to check."""

    def __init__(self, service: str, where: str, cause: str, check: str) -> None:
        super().__init__(f"{service} at {where}: {cause}")
        self.service = service
        self.where = where
        self.cause = cause
        self.check = check

    @property
    def line(self) -> str:
        return f"cannot reach {self.service} at {self.where} ({self.cause}); {self.check}"


class StartupGaveUpError(QuietError):
    """A service stayed unreachable for the whole start-up window (already logged)."""


class ServiceAnsweredError(Exception):
    """A service answered with an HTTP error status where the start-up needed an answer."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


@dataclass(frozen=True)
class Service:
    """Something the bot must reach before it starts: ``probe(within)`` raises UnreachableError."""

    name: str
    probe: Callable[[float], Awaitable[None]]


# --- what went wrong, in words -------------------------------------------------------------

_NETWORK = "check that the network is up and that no firewall or proxy blocks the way"
_ADDRESS = "check the address in {setting}"
_TLS = (
    "check the system clock and the CA certificates (ca-certificates), and that no proxy "
    "intercepts TLS; or the https/http scheme in {setting}"
)


def _os_cause(error: OSError) -> tuple[str, str] | None:
    number = error.errno
    if number == errno.ECONNREFUSED:
        return "connection refused", f"nothing listens there: {_ADDRESS}, or start that service"
    if number in (errno.ENETUNREACH, errno.ENETDOWN):
        return "network unreachable", "check that the network is up (a route, an address)"
    if number == errno.EHOSTUNREACH:
        return "host unreachable", _NETWORK
    if number in (errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE):
        return "connection reset", _NETWORK
    if number == errno.ETIMEDOUT:
        return "connection timed out", _NETWORK
    return None


_SSL_NOISE = re.compile(r"^\[[^\]]+\]\s*|\s*\(_ssl\.c:\d+\)$")


def _tls_detail(error: BaseException) -> str:
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        error = error.certificate_error
    elif isinstance(error, aiohttp.ClientConnectorError):
        error = error.os_error
    if isinstance(error, ssl.SSLCertVerificationError):
        return error.verify_message or "certificate not trusted"
    if isinstance(error, ssl.SSLError):  # "[SSL: WRONG_VERSION_NUMBER] wrong version number (…)"
        text = str(error.strerror or error.reason or type(error).__name__)
        return _SSL_NOISE.sub("", text) or text
    return str(error) or type(error).__name__


def classify(error: BaseException, within: float | None = None) -> tuple[str, str] | None:
    """(cause, what to check) when ``error`` means the service could not be reached; the
    check may name ``{setting}``. None for any other error."""
    if isinstance(error, ServiceAnsweredError):
        if error.status >= 500:
            return (
                f"it answered HTTP {error.status}",
                "the service has trouble on its side: see its status page; the bot tries again",
            )
        return f"it answered HTTP {error.status}", _ADDRESS
    if isinstance(error, aiohttp.WSServerHandshakeError):
        return f"the websocket handshake was answered HTTP {error.status}", _ADDRESS
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        detail = error.os_error.strerror or "no address"
        return (
            f"DNS lookup failed: {detail}",
            "check that the network is up and DNS works (/etc/resolv.conf), and the host "
            "name in {setting}",
        )
    if isinstance(error, aiohttp.ClientSSLError | ssl.SSLError):
        return f"TLS handshake failed: {_tls_detail(error)}", _TLS
    if isinstance(error, TimeoutError):  # asyncio's, and aiohttp's connection timeouts
        seconds = f" within {within:.0f} s" if within is not None else ""
        return f"no answer{seconds}", _NETWORK
    if isinstance(error, aiohttp.ClientConnectorError):
        return _os_cause(error.os_error) or (f"cannot connect: {error.os_error}", _NETWORK)
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the connection was closed before an answer", _NETWORK
    if isinstance(error, aiohttp.ClientConnectionError):
        return f"the connection failed: {type(error).__name__}", _NETWORK
    if isinstance(error, OSError):
        return _os_cause(error)
    return None


def where(url: str) -> str:
    """``host:port`` of a URL, the default port filled in from its scheme."""
    parts = urlsplit(url)
    secure = parts.scheme in ("https", "wss")
    try:
        port = parts.port or (443 if secure else 80)
    except ValueError:
        port = 443 if secure else 80
    return f"{parts.hostname or url}:{port}"


@contextlib.asynccontextmanager
async def probing(service: str, url: str, setting: str, *, within: float) -> AsyncIterator[None]:
    """Run the block within ``within`` seconds; a failure to reach ``url`` becomes an
    UnreachableError naming the host, the cause and what to check (``setting`` among it)."""
    try:
        async with asyncio.timeout(within):
            yield
    except Exception as error:
        found = classify(error, within)
        if found is None:
            raise
        cause, check = found
        raise UnreachableError(service, where(url), cause, check.format(setting=setting)) from None


# --- the start-up window -------------------------------------------------------------------


async def reach_all(
    services: Sequence[Service], *, window: float, backoff: Backoff = START_BACKOFF
) -> None:
    """Reach every service in order, each once; retry an unreachable one with ``backoff``
    until ``window`` seconds after the first try, one line per try. Raises StartupGaveUpError
    after the final line."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    tries = 0
    for service in services:
        failures = 0
        while True:
            elapsed = loop.time() - began
            left = window - elapsed
            tries += 1
            try:
                await service.probe(min(TRY_SECONDS, max(left, MIN_TRY_SECONDS)))
            except UnreachableError as failure:
                failures += 1
                left = window - (loop.time() - began)
                if left <= 0:
                    log.warning("start-up: %s; try %d, no time left", failure.line, tries)
                    log.error(
                        "start-up failed: %s stayed unreachable for %.0f s (%d tries, last: "
                        "%s); exiting with status 1 so that the supervisor starts the bot again",
                        failure.service,
                        loop.time() - began,
                        tries,
                        failure.cause,
                    )
                    raise StartupGaveUpError(str(failure)) from None
                wait = min(backoff.delay(failures), left)
                log.warning(
                    "start-up: %s; try %d, again in %.1f s (trying for %.0f s in all)",
                    failure.line,
                    tries,
                    wait,
                    window,
                )
                await asyncio.sleep(wait)
                continue
            if failures:
                log.info(
                    "start-up: %s reached after %d failed tries (%.1f s)",
                    service.name,
                    failures,
                    loop.time() - began,
                )
            break


async def reach_provider(session: aiohttp.ClientSession, base_url: str, within: float) -> None:
    """One keyless task query: any answer below 500 proves DashScope is reachable (a
    missing key is answered 401, and nothing is billed or counted against the account)."""
    url = base_url.rstrip("/") + PROVIDER_PROBE_PATH
    async with (
        probing("DashScope", base_url, "DASHSCOPE_BASE_URL", within=within),
        session.get(url, allow_redirects=False) as response,
    ):
        if response.status >= 500:
            raise ServiceAnsweredError(response.status)


def stop_summary(unfinished: Mapping[str, int] | None) -> str:
    """The last words of a clean stop: how many jobs will resume at the next start."""
    if unfinished is None:
        return "unfinished jobs resume on the next start (their count could not be read)"
    total = sum(unfinished.values())
    if not total:
        return "unfinished jobs resume on the next start (there are none)"
    parts = ", ".join(f"{count} {state}" for state, count in sorted(unfinished.items()))
    noun = "job" if total == 1 else "jobs"
    return f"unfinished jobs resume on the next start: {total} {noun} ({parts})"


async def unfinished_jobs(jobs: JobRepository) -> dict[str, int] | None:
    """How many jobs are not finished, by state; None when the database cannot say."""
    try:
        async with asyncio.timeout(COUNT_SECONDS):
            counts = await jobs.count_by_state()
    except Exception as error:  # a stop must not fail, nor linger, on its last words
        log.warning("could not count the unfinished jobs: %s", error)
        return None
    return {state.value: n for state, n in counts.items() if n and not state.is_terminal}
