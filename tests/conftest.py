"""Fixtures shared by the end-to-end tests: the simulator, the fake Discord and the bot process."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from types import FrameType

import pytest

from bot.simulator import Simulator, SimulatorKnobs
from tests.fake_discord import FakeDiscord
from tests.support import hangs
from tests.support.bot_process import BotProcess
from tests.support.postgres import PostgresServer, bindir, running_postgres

FIXTURES = Path(__file__).resolve().parent / "fixtures"
API_KEY = "sk-test-e2e-0123456789"


@pytest.hookimpl(hookwrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: object) -> Generator[None]:
    """A test that times out prints its asyncio tasks' stacks too (tests/support/hangs.py)."""
    yield
    theirs = signal.getsignal(signal.SIGALRM)
    if not callable(theirs):
        return  # the thread method, or no timeout

    def handler(signum: int, frame: FrameType | None) -> None:
        hangs.print_tasks(item.config.get_terminal_writer())
        theirs(signum, frame)

    signal.signal(signal.SIGALRM, handler)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


REQUIRE_POSTGRES = "EMO_TEST_POSTGRES"  # "require": fail, not skip, without PostgreSQL (CI)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throw-away PostgreSQL server for the whole session, started when first needed."""
    if bindir() is None:
        message = (
            "PostgreSQL is not installed, so the PostgreSQL tier is skipped: install it "
            "(Debian: apt-get install postgresql) and run the tests again"
        )
        if os.environ.get(REQUIRE_POSTGRES) == "require":
            pytest.fail(message)
        pytest.skip(message)
    with running_postgres() as server:
        yield server


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend a test runs on: SQLite unless the test (``BOTH_BACKENDS``) or
    its folder's conftest asks for both."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    """EMO_DATABASE_URL for the test: empty (SQLite) or a new database of its own."""
    if backend == "sqlite":
        return ""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture(autouse=True)
def _database_in_environment(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built in the test process (the engine harness) use the test's database."""
    if database_url:
        monkeypatch.setenv("EMO_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("EMO_DATABASE_URL", raising=False)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    simulator = Simulator(
        knobs=SimulatorKnobs(render_seconds_per_audio_second=0.1, render_overhead_seconds=0.2),
        api_keys={API_KEY},
    )
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    yield fake
    await fake.close()


BotFactory = Callable[..., BotProcess]


@pytest.fixture
async def bot_process(
    tmp_path: Path, simulator: Simulator, discord_fake: FakeDiscord, database_url: str
) -> AsyncIterator[BotFactory]:
    """Build (not start) bot processes wired to the local stand-ins by environment only."""
    made: list[BotProcess] = []

    def make(**overrides: str) -> BotProcess:
        environment = {
            "DISCORD_TOKEN": discord_fake.bot_token,
            "DISCORD_API_BASE_URL": discord_fake.api_base_url,
            "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
            "DISCORD_CDN_BASE_URL": discord_fake.cdn_base_url,
            "DASHSCOPE_API_KEY": API_KEY,
            "DASHSCOPE_BASE_URL": simulator.base_url,
            "EMO_DATA_DIR": str(tmp_path / "data"),
            "EMO_DATABASE_URL": database_url,
            "EMO_POLL_MIN_SECONDS": "0.25",
            "EMO_POLL_MAX_SECONDS": "1",
            "EMO_LOG_LEVEL": "debug",
            # The ops server is tested on its own; here it would fight over one port.
            "EMO_OPS_BIND": "off",
            **overrides,
        }
        process = BotProcess(environment, tmp_path / f"bot{len(made)}")
        made.append(process)
        return process

    yield make
    for process in made:
        await process.stop()
    # Whatever the test did, the bot's own log must not show a secret or a signature.
    secrets = [re.escape(discord_fake.bot_token), re.escape(API_KEY)]
    signed = r"\b(?i:Signature|X-Amz-Signature|OSSAccessKeyId|hm|sig)=(?!\[redacted\])"
    leaks = [
        (process.workdir.name, match.group(0))
        for process in made
        for match in re.finditer("|".join([*secrets, signed]), process.log_text())
    ]
    assert leaks == [], f"secrets in the bot's log: {leaks[:5]}"
