"""Start-up without the network: the real bot (`python -m bot`) against ports where nothing
listens, a fake Discord that comes up late, and the provider's failures on loopback.

Each unreachable service is one line per try, tried again with growing waits for
EMO_STARTUP_RETRY_SECONDS; then one final line and exit status 1. Never a traceback, except
for an error nobody expected: that is logged once, with a reference id.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import signal
import socket
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import abc, web

from bot.startup import UnreachableError, reach_provider
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord
from tests.support.bot_process import BotProcess
from tests.support.e2e import attachments, is_video, until
from tests.support.postgres import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (\w+)\s+(\S+): (.*)$")


def _lines(log: str) -> list[tuple[datetime, str, str, str]]:
    """(time, level, logger, message) of each log line."""
    found = []
    for line in log.splitlines():
        match = STAMP.match(line)
        if match:
            moment = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            found.append((moment, match.group(2), match.group(3), match.group(4)))
    return found


def _tries(log: str, service: str) -> list[tuple[datetime, str]]:
    return [
        (moment, message)
        for moment, _, logger, message in _lines(log)
        if logger == "bot.startup" and message.startswith(f"start-up: cannot reach {service} ")
    ]


async def _run_to_exit(bot: BotProcess, within: float = 90.0) -> tuple[int, str]:
    """Run the bot's command to its end; its exit status and everything it printed."""
    status, out, err = await bot.run(within=within)
    return status, out + err


def _discord_at(port: int) -> dict[str, str]:
    base = f"http://127.0.0.1:{port}"
    return {
        "DISCORD_API_BASE_URL": f"{base}/api/v10",
        "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{port}/gateway",
        "DISCORD_CDN_BASE_URL": base,
    }


async def test_nothing_listening_is_one_line_per_try_then_exit_1(
    bot_process: BotFactory, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens here
    window = 6.0
    bot = bot_process(**_discord_at(port), EMO_STARTUP_RETRY_SECONDS=str(window))
    bot.workdir.mkdir(parents=True)
    status, log = await _run_to_exit(bot)

    assert status == 1, log
    assert "Traceback" not in log
    tries = _tries(log, "Discord")
    assert len(tries) >= 4, log
    for number, (_, message) in enumerate(tries, start=1):
        assert message.startswith(
            f"start-up: cannot reach Discord at 127.0.0.1:{port} (connection refused); "
            "nothing listens there: check the address in DISCORD_API_BASE_URL"
        ), message
        assert f"; try {number}, " in message
    assert tries[-1][1].endswith("no time left")
    # Growing waits: about 1 s, then 2 s, then 4 s (each ± 20 %), cut short by the window.
    gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(tries)]
    assert 0.7 < gaps[0] < 1.5, gaps
    assert 1.5 < gaps[1] < 2.8, gaps
    assert gaps[1] > gaps[0]
    span = (tries[-1][0] - tries[0][0]).total_seconds()
    assert window - 0.1 <= span < window + 1.5, (span, gaps)
    # After the tries, one final line, the process's last; nothing else went wrong.
    lines = _lines(log)
    assert lines[-1][1:3] == ("ERROR", "bot.startup")
    assert lines[-1][3].startswith(
        f"start-up failed: Discord stayed unreachable for 6 s ({len(tries)} tries, last: "
        "connection refused); exiting with status 1"
    )
    assert [line for line in lines if line[1] == "ERROR"] == [lines[-1]]
    print(f"tries {len(tries)}, waits {[round(g, 2) for g in gaps]} s, span {span:.2f} s")


async def test_the_fake_discord_comes_up_during_the_retries_and_a_job_is_served(
    bot_process: BotFactory, fixtures: Path
) -> None:
    port = free_port()
    fake = FakeDiscord(port=port)  # not started yet: the bot starts into a dead port
    bot = bot_process(**_discord_at(port), EMO_STARTUP_RETRY_SECONDS="120")
    try:
        await bot.start()
        await until(lambda: len(_tries(bot.log_text(), "Discord")) >= 3, "three failed tries")
        await fake.start()
        assert fake.port == port
        try:
            await fake.wait_for_identify(timeout=60)
        except TimeoutError:
            pytest.fail(f"the bot never connected:\n{bot.log_text()}")
        log = bot.log_text()
        failed = len(_tries(log, "Discord"))
        assert re.search(rf"start-up: Discord reached after {failed} failed tries", log), log

        member = fake.add_member(name="ivy")
        await fake.invoke_slash("emo animate", user_id=member, attachments=attachments(fixtures))
        try:
            result = await fake.wait_for_message(predicate=lambda m: is_video(m), timeout=90)
        except TimeoutError:
            pytest.fail(f"no video was posted:\n{bot.log_text()}")
        assert f"<@{member}>" in result.content
        assert fake.violations == []

        assert await bot.stop(signal.SIGTERM, grace=10.0) == 0
        log = bot.log_text()
        assert "Traceback" not in log
        last = _lines(log)[-1][3]
        assert re.fullmatch(
            r"stopped by signal in \d+\.\d\d s; unfinished jobs resume on the next start "
            r"\(there are none\)",
            last,
        ), last
        print(f"failed tries before the fake came up: {failed}")
    finally:
        await fake.close()


async def test_an_unreachable_provider_is_tried_again_before_discord_is_joined(
    bot_process: BotFactory, discord_fake: FakeDiscord
) -> None:
    port = free_port()
    bot = bot_process(
        DASHSCOPE_BASE_URL=f"http://127.0.0.1:{port}/api/v1", EMO_STARTUP_RETRY_SECONDS="3"
    )
    bot.workdir.mkdir(parents=True)
    status, log = await _run_to_exit(bot)
    assert status == 1, log
    assert "Traceback" not in log
    assert _tries(log, "Discord") == []  # Discord was reached at the first try
    tries = _tries(log, "DashScope")
    assert len(tries) >= 3, log
    assert all(
        message.startswith(
            f"start-up: cannot reach DashScope at 127.0.0.1:{port} (connection refused); "
            "nothing listens there: check the address in DASHSCOPE_BASE_URL"
        )
        for _, message in tries
    )
    assert _lines(log)[-1][3].startswith("start-up failed: DashScope stayed unreachable")
    # Nothing started meanwhile: the bot never joined the gateway.
    assert discord_fake.identify_count == 0


async def test_an_unexpected_error_at_start_is_logged_once_with_a_reference(
    bot_process: BotFactory, tmp_path: Path
) -> None:
    bot = bot_process()
    bot.workdir.mkdir(parents=True)
    # Not a damaged file or a full disk (those are one line, exit 2): a table gone missing.
    status, _, err = await bot.run("migrate")
    assert status == 0, err
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "emo-bot.sqlite3")) as db:
        db.execute("DROP TABLE meta")
    status, log = await _run_to_exit(bot)
    assert status == 1, log
    assert log.count("Traceback") == 1, log
    errors = [line for line in _lines(log) if line[1] == "ERROR"]
    assert len(errors) == 1, log
    assert re.fullmatch(
        r"the bot stopped on an unexpected error \(reference [0-9a-f]{8}\)", errors[0][3]
    )
    assert "no such table: meta" in log


# --- what each cause reads like, against real failures on loopback --------------------------


@contextlib.asynccontextmanager
async def _serving(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def plain_http() -> AsyncIterator[str]:
    """An HTTP server whose every answer is 503."""

    async def unavailable(_: web.Request) -> web.Response:
        return web.Response(status=503)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unavailable)
    async with _serving(app) as address:
        yield address


@pytest.fixture
async def silent() -> AsyncIterator[str]:
    """A server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


class _NoDns(abc.AbstractResolver):
    """A resolver that finds no address, as on a machine without DNS."""

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[abc.ResolveResult]:
        raise OSError(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        return None


async def _cause(
    base_url: str, *, within: float = 5.0, resolver: abc.AbstractResolver | None = None
) -> UnreachableError:
    connector = aiohttp.TCPConnector(resolver=resolver) if resolver else aiohttp.TCPConnector()
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(UnreachableError) as caught:
            await reach_provider(session, base_url, within)
    return caught.value


async def test_each_cause_names_the_host_the_cause_and_what_to_check(
    plain_http: str, silent: str
) -> None:
    refused = f"127.0.0.1:{free_port()}"
    cases = [
        (f"http://{refused}/api/v1", refused, "connection refused", "DASHSCOPE_BASE_URL"),
        (f"http://{plain_http}/api/v1", plain_http, "it answered HTTP 503", "status page"),
        (
            f"https://{plain_http}/api/v1",  # TLS spoken to a plain HTTP server
            plain_http,
            "TLS handshake failed: wrong version number",
            "CA certificates",
        ),
        (f"http://{silent}/api/v1", silent, "no answer within 1 s", "firewall"),
    ]
    for url, where, cause, check in cases:
        failure = await _cause(url, within=1.0)
        assert (failure.service, failure.where, failure.cause) == ("DashScope", where, cause)
        assert check in failure.check
        assert failure.line.startswith(f"cannot reach DashScope at {where} ({cause}); ")

    failure = await _cause("https://dashscope.aliyuncs.com/api/v1", resolver=_NoDns())
    assert failure.where == "dashscope.aliyuncs.com:443"
    assert failure.cause == "DNS lookup failed: Name or service not known"
    assert "DNS works (/etc/resolv.conf)" in failure.check
    assert "DASHSCOPE_BASE_URL" in failure.check


async def test_an_answer_below_500_proves_the_provider_reachable() -> None:
    async def no_key(_: web.Request) -> web.Response:
        return web.Response(status=401)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", no_key)
    async with _serving(app) as address, aiohttp.ClientSession() as session:
        await reach_provider(session, f"http://{address}/api/v1", 5.0)
