"""Bring your own key (issue 14, item 4), through the real bot process, the fake Discord and
the simulator: `/emo-admin provider-key set|clear|status`. The key is asked in a modal,
checked with a free call, stored sealed, and found in clear nowhere: not the database file
(nor its WAL), not the log, not one Discord message, not the metrics page.

Nothing is patched: the bot is configured by its environment only.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.provider.accounts import fingerprint
from bot.simulator import Simulator
from tests.conftest import API_KEY, BotFactory
from tests.fake_discord import FakeDiscord, FakeInteraction, FakeMessage
from tests.support.e2e import accounts_simulator, answer, everything_sent, started
from tests.support.postgres import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

OWN_KEY = "sk-own-server-9f8e7d6c5b4a39281706"
WRONG_KEY = "sk-nobody-knows-this-one-0123456789"
SECRET = "e2e-operator-secret-0123456789-abcdefghij"
COMMAND = "emo-admin provider-key"


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """The operator's account, and the account a server brings its key from."""
    async with accounts_simulator({"operator": [API_KEY], "server": [OWN_KEY]}) as simulator:
        yield simulator


async def _answer(interaction: FakeInteraction, needle: str, within: float = 30.0) -> FakeMessage:
    """The bot's private answer to ``interaction`` once it contains ``needle``."""
    said = await answer(interaction, needle, within)
    assert said.ephemeral, said.content
    return said


async def _modal(fake: FakeDiscord, user: int) -> FakeInteraction:
    opened = await fake.invoke_slash(f"{COMMAND} set", user_id=user)
    await opened.wait_acked()
    assert opened.modal is not None, opened.original_response
    return opened


def _field(modal: dict[str, object]) -> dict[str, object]:
    """The modal's one text input (inside its label)."""
    (label,) = modal["components"]  # type: ignore[misc]
    component: dict[str, object] = label["component"]  # type: ignore[index]
    return component


def _rows(data: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(data / "emo-bot.sqlite3") as db:
        return db.execute(
            "SELECT guild_id, account_id, sealed_key, set_by, retired_at FROM guild_provider_keys"
        ).fetchall()


async def test_without_emo_secret_key_set_is_refused_in_clear_words(
    bot_process: BotFactory, discord_fake: FakeDiscord
) -> None:
    fake = discord_fake
    admin = fake.add_member(name="ada", manage_guild=True)
    await started(bot_process(), fake)
    await fake.wait_for_commands(names=["emo-admin"])

    refused = await fake.invoke_slash(f"{COMMAND} set", user_id=admin)
    await _answer(refused, "its operator has not set EMO_SECRET_KEY")
    assert refused.modal is None  # refused before any key is typed
    status = await fake.invoke_slash(f"{COMMAND} status", user_id=admin)
    await _answer(status, "This server has no DashScope key of its own")


async def test_a_servers_own_key_is_checked_stored_sealed_and_shown_nowhere(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    tmp_path: Path,
) -> None:
    fake, data = discord_fake, tmp_path / "data"
    admin = fake.add_member(name="ada", manage_guild=True)
    member = fake.add_member(name="mia")
    ops = free_port()
    bot = bot_process(EMO_SECRET_KEY=SECRET, EMO_OPS_BIND=f"127.0.0.1:{ops}")
    await started(bot, fake)
    commands = {c["name"]: c for c in await fake.wait_for_commands(names=["emo-admin"])}
    group = next(o for o in commands["emo-admin"]["options"] if o["name"] == "provider-key")
    assert {o["name"] for o in group["options"]} == {"set", "clear", "status"}
    assert all(not o.get("options") for o in group["options"])  # the key is never an option

    # Manage Server is checked by the bot itself, as for every /emo-admin command.
    for sub in ("set", "clear", "status"):
        denied = await fake.invoke_slash(f"{COMMAND} {sub}", user_id=member)
        await _answer(denied, "Only members with the Manage Server permission")
        assert denied.modal is None

    # A wrong key: the provider's reason, nothing stored.
    opened = await _modal(fake, admin)
    field = _field(opened.modal or {})
    assert (field["type"], field.get("style"), field.get("max_length")) == (4, 1, 200)
    assert field.get("required", True) is True
    custom_id = str(field["custom_id"])
    wrong = await fake.submit_modal(opened, {custom_id: WRONG_KEY})
    await _answer(wrong, "DashScope refused this key: InvalidApiKey — Invalid API-key provided.")
    assert _rows(data) == []

    # The server's own key, pasted with a line break: checked with the free call, saved.
    before = simulator.query_count.total
    opened = await _modal(fake, admin)
    saved = await fake.submit_modal(opened, {custom_id: f" {OWN_KEY}\n"})
    account = fingerprint(OWN_KEY)
    await _answer(saved, f"this server's videos now run on its own DashScope account {account}")
    assert simulator.query_count.total == before + 1
    ((guild_id, stored_account, sealed, set_by, retired_at),) = _rows(data)
    assert (guild_id, stored_account, set_by, retired_at) == (fake.guild_id, account, admin, None)
    assert str(sealed).startswith("v1:")

    status = await fake.invoke_slash(f"{COMMAND} status", user_id=admin)
    said = await _answer(status, f"its own DashScope account {account}")
    assert f"<@{admin}>" in said.content

    # Found in clear nowhere: the database (and its WAL), the log, Discord, the metrics page.
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{ops}/metrics") as page,
    ):
        assert page.status == 200
        metrics = await page.text()
    assert "emo_" in metrics
    files = sorted(data.glob("emo-bot.sqlite3*"))
    assert data / "emo-bot.sqlite3-wal" in files
    written = {
        "database": b"".join(path.read_bytes() for path in files),
        "log": bot.log_text().encode(),
        "discord": everything_sent(fake).encode(),
        "metrics": metrics.encode(),
    }
    for where, content in written.items():
        for secret in (OWN_KEY, WRONG_KEY, SECRET):
            assert secret.encode() not in content, f"{secret[:6]}… in the {where}"
            assert secret.encode("utf-16-le") not in content, f"{secret[:6]}… in the {where}"
    assert account.encode() in written["database"]  # what is stored: its fingerprint
    assert f"own provider account {account} set by {admin}" in bot.log_text()

    # clear: the server is back on the bot's accounts; the row stays, retired.
    cleared = await fake.invoke_slash(f"{COMMAND} clear", user_id=admin)
    await _answer(cleared, "This server's own key is no longer used")
    status = await fake.invoke_slash(f"{COMMAND} status", user_id=admin)
    await _answer(status, "This server has no DashScope key of its own")
    again = await fake.invoke_slash(f"{COMMAND} clear", user_id=admin)
    await _answer(again, "This server has no key of its own")
    ((_, _, _, _, retired_at),) = _rows(data)
    assert retired_at is not None
    await asyncio.sleep(0)
    assert fake.violations == []
