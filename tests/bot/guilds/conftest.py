from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.guilds.access import Viewer
from bot.guilds.services import GuildServices, build_guild_services
from bot.jobs.store import JobStore
from bot.settings import Settings
from tests.bot.guilds.rows import MovableClock

GUILD = 111
OTHER_GUILD = 222
ADMIN = Viewer(guild_id=GUILD, user_id=1, manages_server=True)
ALICE = Viewer(guild_id=GUILD, user_id=2, manages_server=False)
BOB = Viewer(guild_id=GUILD, user_id=3, manages_server=False)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JobStore]:
    store = JobStore(tmp_path / "emo-bot.sqlite3")
    await store.open()
    yield store
    await store.close()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


ServicesFactory = Callable[..., GuildServices]


@pytest.fixture
def make_services(store: JobStore, clock: MovableClock, tmp_path: Path) -> ServicesFactory:
    """The real guild services over the test's store and clock; keyword arguments are
    settings (``emo_member_seconds_per_day=60``)."""

    def make(**settings: object) -> GuildServices:
        values: dict[str, object] = {
            "dashscope_api_key": "sk-test",
            "emo_data_dir": tmp_path,
            **settings,
        }
        return build_guild_services(Settings(**values), store, clock=clock)  # type: ignore[arg-type]

    return make


@pytest.fixture
def services(make_services: ServicesFactory) -> GuildServices:
    return make_services()
