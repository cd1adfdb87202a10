"""Two bot processes as two Discord shards of one bot, on one PostgreSQL.

Each process runs one shard (DISCORD_SHARD_COUNT=2, DISCORD_SHARD_IDS=0 or 1). The fake
Discord routes a guild's interactions and reactions only to the shard
``(guild_id >> 22) % 2``, so the process of that shard must answer them itself (the
3-second acknowledgement is local), while any process may post the result and edit the
card through REST. Each guild's command and 🔁 must be answered by its own shard, and every
card and result must arrive exactly once.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.support.backends import BOTH_BACKENDS
from tests.support.bot_process import BotProcess
from tests.support.e2e import attachments, is_video, job_histories, until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),
    pytest.mark.parametrize("backend", ["postgres"], indirect=True),
]
assert BOTH_BACKENDS  # several processes need PostgreSQL: this module runs on it alone

RESULT_MARK = re.compile(r"job #(\d+)\)")


def _messages(fake: FakeDiscord, channels: list[int]) -> list[FakeMessage]:
    return [m for channel in channels for m in fake.messages(channel)]


def _results(fake: FakeDiscord, channels: list[int]) -> list[FakeMessage]:
    return [m for m in _messages(fake, channels) if is_video(m)]


def _received_by(bots: list[BotProcess], job_id: int) -> list[str]:
    """Which processes logged taking job ``job_id`` in (its row's creation)."""
    pattern = re.compile(rf"job {job_id} created ")
    return [bot.workdir.name for bot in bots if pattern.search(bot.log_text())]


async def test_each_guild_is_answered_by_its_own_shard_and_posted_once(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
) -> None:
    guilds = [discord_fake.add_guild(f"shard-{n}", shard=(n, 2)) for n in (0, 1)]
    channels = [discord_fake.add_channel(guild, "general") for guild in guilds]
    members = [
        discord_fake.add_member(name=f"member-{n}", guild_id=guild)
        for n, guild in enumerate(guilds)
    ]
    bots = [
        bot_process(
            DISCORD_SHARD_COUNT="2",
            DISCORD_SHARD_IDS=str(n),
            EMO_INSTANCE_NAME=f"shard-{n}",
        )
        for n in (0, 1)
    ]
    for bot in bots:
        await bot.start()
    try:
        sessions = await discord_fake.wait_for_shards([0, 1], 2, timeout=60)
    except TimeoutError:
        pytest.fail("the shards never connected:\n" + "\n".join(b.log_text() for b in bots))
    assert all(len(ids) == 1 for ids in sessions.values())  # one session per shard

    # One /emo animate in each guild: delivered to that guild's shard only, acknowledged.
    commands = []
    for n in (0, 1):
        commands.append(
            await discord_fake.invoke_slash(
                "emo animate",
                user_id=members[n],
                channel_id=channels[n],
                attachments=attachments(fixtures),
            )
        )
    for n, interaction in enumerate(commands):
        await interaction.wait_acked(timeout=10)
        assert interaction.delivered_to == sessions[n]
    await until(lambda: len(_results(discord_fake, channels)) == 2, "both videos", within=120)
    first = {m.channel_id: m for m in _results(discord_fake, channels)}
    assert set(first) == set(channels)
    # A post lands a moment before its row says so (and names the message 🔁 is matched by).
    await until(
        lambda: [h[-1] for h in job_histories(bots[0])] == ["delivered", "delivered"],
        "both jobs recorded as delivered",
        within=30,
    )

    # The member's 🔁 on their result reaches only their guild's shard; one more video each.
    for n in (0, 1):
        await discord_fake.add_reaction(first[channels[n]].id, "🔁", user_id=members[n])
    await until(
        lambda: len(_results(discord_fake, channels)) == 4, "both retried videos", within=120
    )
    await asyncio.sleep(2.0)  # anything posted twice would show by now

    results = _results(discord_fake, channels)
    job_ids = [int(match.group(1)) for m in results if (match := RESULT_MARK.search(m.content))]
    assert sorted(job_ids) == [1, 2, 3, 4]  # one post per job, none twice
    assert len(simulator.submissions) == 4  # one task per job
    for message in results:
        guild_id = discord_fake.channels[message.channel_id].guild_id
        assert guild_id is not None
        guild_shard = discord_fake.shard_of(guild_id, 2)
        (job_id,) = {int(m.group(1)) for m in RESULT_MARK.finditer(message.content)}
        # Taken in (the command, or the 🔁) by the process of that guild's shard.
        assert _received_by(bots, job_id) == [f"bot{guild_shard}"], job_id
    reactions = discord_fake.dispatched("MESSAGE_REACTION_ADD")
    assert {r.shard_id for r in reactions if r.guild_id == guilds[0]} == {0}
    assert {r.shard_id for r in reactions if r.guild_id == guilds[1]} == {1}

    # One card per job, in its guild's channel: never a second card for the same job.
    cards = [
        m.nonce
        for m in _messages(discord_fake, channels)
        if m.author_id == discord_fake.bot_user_id and str(m.nonce).startswith("emo-card-")
    ]
    assert sorted(cards) == [f"emo-card-{n}" for n in (1, 2, 3, 4)]
    histories = job_histories(bots[0])
    assert len(histories) == 4
    assert all(history[-1] == "delivered" for history in histories)
    assert discord_fake.violations == []
