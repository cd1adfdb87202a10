from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.guilds.access import Viewer
from bot.guilds.accounts import AccountPlans
from bot.guilds.services import GuildServices, build_guild_services
from bot.settings import Settings
from tests.bot.guilds.rows import MovableClock, Rows
from tests.support.backends import open_test_database

GUILD = 111
OTHER_GUILD = 222
ADMIN = Viewer(guild_id=GUILD, user_id=1, manages_server=True)
ALICE = Viewer(guild_id=GUILD, user_id=2, manages_server=False)
BOB = Viewer(guild_id=GUILD, user_id=3, manages_server=False)


class OwnAccounts:
    """Servers on an account of their own, as bringing one's own key will record them (not
    built yet: the bot's own ``SharedAccountsOnly`` answers no for every server)."""

    def __init__(self, *guild_ids: int) -> None:
        self._guilds = frozenset(guild_ids)

    async def own_account(self, guild_id: int) -> bool:
        return guild_id in self._guilds

    async def own_account_guilds(self) -> frozenset[int]:
        return self._guilds


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every test here runs on both database backends."""
    return str(request.param)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def store(tmp_path: Path, clock: MovableClock, database_url: str) -> AsyncIterator[Rows]:
    db = await open_test_database(database_url, tmp_path)
    yield Rows.over(db, clock, tmp_path / "media")
    await db.close()


ServicesFactory = Callable[..., GuildServices]


@pytest.fixture
def make_services(store: Rows, clock: MovableClock, tmp_path: Path) -> ServicesFactory:
    """The real guild services over the test's rows and clock; keyword arguments are
    settings (``emo_member_seconds_per_day=60``), and ``accounts``: which servers run on an
    account of their own."""

    def make(accounts: AccountPlans | None = None, **settings: object) -> GuildServices:
        values: dict[str, object] = {
            "dashscope_api_key": "sk-test",
            "emo_data_dir": tmp_path,
            **settings,
        }
        return build_guild_services(
            Settings(**values),  # type: ignore[arg-type]
            jobs=store.jobs,
            guilds=store.guilds,
            cache=store.cache,
            accounts=accounts,
            clock=clock,
        )

    return make


@pytest.fixture
def services(make_services: ServicesFactory) -> GuildServices:
    return make_services()
