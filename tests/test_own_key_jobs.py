"""A server that brings its own DashScope key (issue 14, item 4), through `python -m bot`, the
fake Discord and the simulator with two accounts: the operator's and the server's. Nothing
is patched.

- The server's jobs are checked, submitted and billed on its own account only; another
  server's on the operator's. The bot-wide monthly budget counts only the operator's bill,
  so the server on its own key is not refused by it, and its videos leave the budget whole.
- The key is found in clear nowhere: the database files, the bot's log, any Discord message,
  the metrics page.
- Another key of an account already in use (the operator's, or another server's) is refused
  at `set`: the account's task list shows the bot's tasks.
- The server's key in arrears pauses that server alone: its admins hear of it in their alert
  channel (not the operator's), another server's jobs carry on, and once the account is paid
  the server's account resumes by itself.
"""

from __future__ import annotations

import contextlib
import re
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.provider.accounts import fingerprint
from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.support.backends import BOTH_BACKENDS
from tests.support.e2e import (
    accounts_simulator,
    answer,
    attachments,
    everything_sent,
    is_video,
    job_histories,
    started,
    until,
)
from tests.support.postgres import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

OPERATOR_KEY = "sk-operator-0001-abcdef"
OWN_KEY = "sk-their-own-0002-QWERTY-zyxwvu"
OPERATOR_SPARE = "sk-operator-spare-0003-abcdef"  # another key of the operator's account
THEIR_SPARE = "sk-their-spare-0004-QWERTY-zyxwvu"  # another key of the server's account
SECRET = "a-test-secret-of-at-least-32-characters-0123"
KEY_FIELD = "emo-provider-key-value"


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """Two accounts, each its own slot and arrears knob, and two keys."""
    accounts = {"operator": [OPERATOR_KEY, OPERATOR_SPARE], "theirs": [OWN_KEY, THEIR_SPARE]}
    async with accounts_simulator(accounts) as simulator:
        yield simulator


async def _set_key(
    fake: FakeDiscord, admin: int, key: str, needle: str, channel_id: int | None = None
) -> FakeMessage:
    """``/emo-admin provider-key set``, the key typed into its modal."""
    opened = await fake.invoke_slash(
        "emo-admin provider-key set", user_id=admin, channel_id=channel_id
    )
    await until(lambda: opened.modal is not None, "the key's form to open", within=20)
    submitted = await fake.submit_modal(opened, {KEY_FIELD: key})
    return await answer(submitted, needle)


async def test_a_server_on_its_own_key_is_served_and_billed_there_and_the_key_is_nowhere(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    fake = discord_fake
    elsewhere = fake.add_guild("Elsewhere")
    lobby = fake.add_channel(elsewhere, "lobby")
    there = fake.add_member(name="tom", guild_id=elsewhere)
    admin = fake.add_member(name="ada", manage_guild=True)
    member = fake.add_member(name="mo")
    port = free_port()
    # About 10 s of video each: $0.20 at 2 cents a second. The operator's budget pays for one.
    bot = bot_process(
        DASHSCOPE_API_KEY=OPERATOR_KEY,
        EMO_SECRET_KEY=SECRET,
        EMO_PRICE_HEAD_USD_PER_SECOND="0.02",
        EMO_TOTAL_MONTHLY_BUDGET_USD="0.205",
        EMO_OPS_BIND=f"127.0.0.1:{port}",
    )
    await started(bot, fake)
    await fake.wait_for_commands(names=["emo", "emo-admin"])
    operator, theirs = simulator.account_id(OPERATOR_KEY), simulator.account_id(OWN_KEY)

    # A wrong key is refused with the provider's reason, and nothing is stored.
    refused = await _set_key(fake, admin, "sk-not-a-key-at-all-999", "InvalidApiKey")
    assert "Invalid API-key provided." in refused.content
    saved = await _set_key(fake, admin, OWN_KEY, fingerprint(OWN_KEY))
    assert saved.ephemeral

    # Two videos on the server's own key: more than the operator's budget would allow.
    for _ in range(2):
        await fake.invoke_slash("emo animate", user_id=member, attachments=attachments(fixtures))
    await until(
        lambda: [h[-1] for h in job_histories(bot)] == ["delivered"] * 2,
        "the server's two videos delivered",
    )
    assert [s.account for s in simulator.submissions] == [theirs, theirs]
    assert {d.account for d in simulator.detections} == {theirs}

    # Another server, on the operator's account: the budget is untouched by the two above.
    await fake.invoke_slash(
        "emo animate", user_id=there, channel_id=lobby, attachments=attachments(fixtures)
    )
    await until(
        lambda: [h[-1] for h in job_histories(bot)] == ["delivered"] * 3,
        "the other server's video delivered",
    )
    assert [s.account for s in simulator.submissions] == [theirs, theirs, operator]
    assert len([m for m in fake.messages(lobby) if is_video(m)]) == 1
    # ...and now the operator's budget is spent: the next one there is refused, while the
    # server on its own key is not.
    again = await fake.invoke_slash(
        "emo animate", user_id=there, channel_id=lobby, attachments=attachments(fixtures)
    )
    await answer(again, "monthly budget for all servers is used up")
    await fake.invoke_slash("emo animate", user_id=member, attachments=attachments(fixtures))
    await until(
        lambda: [h[-1] for h in job_histories(bot)] == ["delivered"] * 4,
        "the server's third video delivered",
    )
    assert [s.account for s in simulator.submissions][-1] == theirs

    status = await fake.invoke_slash("emo-admin provider-key status", user_id=admin)
    await answer(status, fingerprint(OWN_KEY))
    # The other server's admin gives another key of an account in use: it would add no slot
    # and bill that account. Refused, and nothing stored.
    rival = fake.add_member(name="rex", guild_id=elsewhere, manage_guild=True)
    said = await _set_key(fake, rival, THEIR_SPARE, "another server already uses", lobby)
    assert said.ephemeral
    said = await _set_key(fake, rival, OPERATOR_SPARE, "operator already uses", lobby)
    assert said.ephemeral
    status = await fake.invoke_slash(
        "emo-admin provider-key status", user_id=rival, channel_id=lobby
    )
    await answer(status, "has no DashScope key of its own")
    # The operator sees the server's account beside theirs, with what it spent (three of
    # the four videos, about $0.60).
    asked = await fake.invoke_slash("emo-operator accounts", user_id=fake.owner_user_id)
    view = (await answer(asked, "Provider accounts: 2.")).content
    own_line = [line for line in view.splitlines() if f"server {fake.guild_id}" in line]
    assert len(own_line) == 1, view
    assert "active, 0/2 slots busy, 0 waiting" in own_line[0]
    assert re.search(r"\$0\.(59\d?|6\d?) spent this month$", own_line[0]), own_line[0]

    # The key in clear: nowhere.
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        metrics = await response.text()
    assert "emo_" in metrics
    data = tmp_path / "data"
    stored = b"".join(path.read_bytes() for path in data.glob("emo-bot.sqlite3*"))
    assert stored, "no database file found"
    assert OWN_KEY.encode() not in stored
    for spare in (THEIR_SPARE, OPERATOR_SPARE):
        assert spare.encode() not in stored
        assert fingerprint(spare).encode() not in stored  # nothing saved of the refused keys
    for where, text in {
        "log": bot.log_text(),
        "Discord": everything_sent(fake),
        "metrics": metrics,
    }.items():
        for key in (OWN_KEY, THEIR_SPARE, OPERATOR_SPARE):
            assert key not in text, where
            assert key[-12:] not in text, where
    # The server itself may move to another key of its own account.
    await _set_key(fake, admin, THEIR_SPARE, fingerprint(THEIR_SPARE))
    assert THEIR_SPARE not in bot.log_text() + everything_sent(fake)
    assert fake.violations == []


@BOTH_BACKENDS
async def test_a_servers_own_key_in_arrears_pauses_that_server_alone(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
) -> None:
    fake = discord_fake
    operator_alerts = fake.add_channel(fake.guild_id, "operator-alerts")
    their_alerts = fake.add_channel(fake.guild_id, "their-alerts")
    elsewhere = fake.add_guild("Elsewhere")
    lobby = fake.add_channel(elsewhere, "lobby")
    there = fake.add_member(name="tom", guild_id=elsewhere)
    admin = fake.add_member(name="ada", manage_guild=True)
    bot = bot_process(
        DASHSCOPE_API_KEY=OPERATOR_KEY,
        EMO_SECRET_KEY=SECRET,
        EMO_ALERT_CHANNEL_ID=str(operator_alerts),
        EMO_PROBE_INTERVAL_SECONDS="1",
    )
    await started(bot, fake)
    await fake.wait_for_commands(names=["emo", "emo-admin"])
    set_channel = await fake.invoke_slash(
        "emo-admin set", user_id=admin, options={"alert_channel": their_alerts}
    )
    await answer(set_channel, "Saved")
    await _set_key(fake, admin, OWN_KEY, fingerprint(OWN_KEY))
    theirs = simulator.account_id(OWN_KEY)

    # The server's account falls into arrears: its member is told, its admins alerted.
    simulator.set_arrears("theirs", True)
    await fake.invoke_slash("emo animate", user_id=admin, attachments=attachments(fixtures))
    alert = await fake.wait_for_message(
        their_alerts, predicate=lambda m: "own API key" in m.content, timeout=60
    )
    assert "Arrearage" in alert.content
    await until(lambda: [h[-1] for h in job_histories(bot)] == ["failed"], "the refused job to end")
    notice = await fake.wait_for_message(
        predicate=lambda m: "own DashScope key was refused" in m.content, timeout=30
    )
    assert "Nothing was charged" in notice.content
    status = await fake.invoke_slash("emo-admin provider-key status", user_id=admin)
    await answer(status, "Arrearage")

    # Another server carries on, on the operator's account; the operator hears nothing.
    await fake.invoke_slash(
        "emo animate", user_id=there, channel_id=lobby, attachments=attachments(fixtures)
    )
    await fake.wait_for_message(lobby, predicate=is_video, timeout=90)
    assert [s.account for s in simulator.submissions] == [simulator.account_id(OPERATOR_KEY)]
    assert fake.messages(operator_alerts) == []

    # Paid again: the server's account resumes by itself, and its next video is made there.
    simulator.set_arrears("theirs", False)
    await until(
        lambda: "submissions resumed for account server" in bot.log_text(),
        "the server's account to resume by itself",
        within=90,
    )
    await fake.invoke_slash("emo animate", user_id=admin, attachments=attachments(fixtures))
    await fake.wait_for_message(predicate=is_video, timeout=90)
    assert [s.account for s in simulator.submissions][-1] == theirs
    assert len([m for m in fake.messages(their_alerts) if "own API key" in m.content]) == 1
    assert fake.violations == []


async def test_a_render_on_a_servers_own_key_survives_a_restart_on_that_key(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
) -> None:
    """The operator's account, starting, adopts tasks in flight that no configured account
    claims: never one on a server's own key, whose task answers only to that key."""
    fake = discord_fake
    admin = fake.add_member(name="ada", manage_guild=True)
    simulator.update_knobs(render_seconds_per_audio_second=1.0)  # about 10 s of rendering
    environment = {"DASHSCOPE_API_KEY": OPERATOR_KEY, "EMO_SECRET_KEY": SECRET}
    bot = bot_process(**environment)
    await started(bot, fake)
    await fake.wait_for_commands(names=["emo", "emo-admin"])
    await _set_key(fake, admin, OWN_KEY, fingerprint(OWN_KEY))
    await fake.invoke_slash("emo animate", user_id=admin, attachments=attachments(fixtures))
    await until(lambda: len(simulator.submissions) == 1, "the render to start")
    await until(
        lambda: job_histories(bot)[0][-1] == "submitted", "the task id to be stored", within=30
    )
    await bot.stop()
    connected = fake.identify_count + fake.resume_count
    await bot.start()
    await fake.wait_for_identify(timeout=60, count=connected + 1)
    await fake.wait_for_message(predicate=is_video, timeout=90)
    await until(
        lambda: [h[-1] for h in job_histories(bot)] == ["delivered"], "the job to be delivered"
    )
    # Submitted once, on the server's key, and polled with it after the restart.
    assert [s.account for s in simulator.submissions] == [simulator.account_id(OWN_KEY)]
    assert "inputs uploaded again" not in bot.log_text()
    assert fake.violations == []


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_shards_share_a_servers_own_key_and_one_takes_it_over_when_the_other_dies(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
) -> None:
    """Set in one process, the key's account runs in whichever holds its duty; when that
    process dies mid-render, the other takes the duty over and delivers, on the same key."""
    fake = discord_fake
    simulator.update_knobs(render_seconds_per_audio_second=0.6)  # about 6 s of rendering
    guilds = [fake.add_guild(f"shard-{n}", shard=(n, 2)) for n in (0, 1)]
    channels = [fake.add_channel(guild, "general") for guild in guilds]
    admin = fake.add_member(name="ada", guild_id=guilds[0], manage_guild=True)
    member = fake.add_member(name="bo", guild_id=guilds[1])
    bots = [
        bot_process(
            DASHSCOPE_API_KEY=OPERATOR_KEY,
            EMO_SECRET_KEY=SECRET,
            DISCORD_SHARD_COUNT="2",
            DISCORD_SHARD_IDS=str(n),
            EMO_INSTANCE_NAME=f"shard-{n}",
            EMO_LEASE_SECONDS="5",
        )
        for n in (0, 1)
    ]
    for bot in bots:
        await bot.start()
    await fake.wait_for_shards([0, 1], 2, timeout=60)
    await fake.wait_for_commands(names=["emo", "emo-admin"])

    opened = await fake.invoke_slash(
        "emo-admin provider-key set", user_id=admin, channel_id=channels[0]
    )
    await until(lambda: opened.modal is not None, "the key's form to open", within=20)
    await answer(await fake.submit_modal(opened, {KEY_FIELD: OWN_KEY}), fingerprint(OWN_KEY))
    own_duty = f"duty provider:own-{guilds[0]}-{fingerprint(OWN_KEY)} taken by"
    await until(
        lambda: any(own_duty in bot.log_text() for bot in bots), "a process to take the key's duty"
    )
    holder = next(n for n, bot in enumerate(bots) if own_duty in bot.log_text())

    for user, channel in ((admin, channels[0]), (member, channels[1])):
        await fake.invoke_slash(
            "emo animate", user_id=user, channel_id=channel, attachments=attachments(fixtures)
        )
    # Killed mid-render: once both task ids are stored. (Killed between a task's creation and
    # its id's write, the job is settled from the task list instead: tests/bot/jobs.)
    await until(
        lambda: [("submitted" in h) for h in job_histories(bots[0])] == [True, True],
        "both renders to start, their task ids stored",
    )
    assert len(simulator.submissions) == 2
    await bots[holder].stop(signal.SIGKILL)
    survivor = bots[1 - holder]
    await until(
        lambda: [h[-1] for h in job_histories(survivor)] == ["delivered", "delivered"],
        "both jobs delivered by the surviving process",
        within=120,
    )
    own, operator = simulator.account_id(OWN_KEY), simulator.account_id(OPERATOR_KEY)
    assert sorted(s.account for s in simulator.submissions) == sorted([own, operator])
    assert own_duty in survivor.log_text()
    videos = [m for channel in channels for m in fake.messages(channel) if is_video(m)]
    assert len(videos) == 2


async def test_a_cleared_key_finishes_its_render_then_is_forgotten(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    """Cleared while a render runs on it: the render finishes on the server's key, the next
    video runs on the operator's, and once nothing is left on the key its sealed copy is
    deleted from the database."""
    fake = discord_fake
    admin = fake.add_member(name="ada", manage_guild=True)
    simulator.update_knobs(render_seconds_per_audio_second=0.6)  # about 6 s of rendering
    bot = bot_process(DASHSCOPE_API_KEY=OPERATOR_KEY, EMO_SECRET_KEY=SECRET, EMO_LEASE_SECONDS="3")
    await started(bot, fake)
    await fake.wait_for_commands(names=["emo", "emo-admin"])
    await _set_key(fake, admin, OWN_KEY, fingerprint(OWN_KEY))
    await fake.invoke_slash("emo animate", user_id=admin, attachments=attachments(fixtures))
    await until(lambda: len(simulator.submissions) == 1, "the render on the server's key")

    cleared = await fake.invoke_slash("emo-admin provider-key clear", user_id=admin)
    await answer(cleared, "no longer used")
    await fake.invoke_slash("emo animate", user_id=admin, attachments=attachments(fixtures))
    await until(
        lambda: [h[-1] for h in job_histories(bot)] == ["delivered", "delivered"],
        "both videos delivered",
    )
    own, operator = simulator.account_id(OWN_KEY), simulator.account_id(OPERATOR_KEY)
    assert [s.account for s in simulator.submissions] == [own, operator]
    await until(
        lambda: "forgotten: none of its jobs is left" in bot.log_text(),
        "the retired key to be forgotten",
        within=60,
    )
    database = tmp_path / "data" / "emo-bot.sqlite3"
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("SELECT COUNT(*) FROM guild_provider_keys").fetchone() == (0,)
    status = await fake.invoke_slash("emo-admin provider-key status", user_id=admin)
    await answer(status, "This server has no DashScope key of its own")
    assert fake.violations == []
