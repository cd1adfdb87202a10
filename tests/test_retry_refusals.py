"""A refused 🔁 is answered in the channel at most once per member per minute, through the
real bot process, the fake Discord and the simulator: toggling the reaction floods nothing,
and a retry that is allowed still runs at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.support.e2e import attachments, is_video, started, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

STILL_ON_ITS_WAY = "is still on its way"


def _refusals(fake: FakeDiscord, member: int) -> list[FakeMessage]:
    return [
        m
        for m in fake.messages()
        if m.author_id == fake.bot_user_id
        and m.content.startswith(f"<@{member}>")
        and STILL_ON_ITS_WAY in m.content
    ]


async def test_toggling_a_refused_retry_answers_once_a_minute(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path
) -> None:
    simulator.update_knobs(render_seconds_per_audio_second=1.5)  # a render of several seconds
    bot = bot_process()
    await started(bot, discord_fake)
    owner = discord_fake.add_member(name="pia")
    manager = discord_fake.add_member(name="rex", manage_guild=True)
    await discord_fake.invoke_slash("emo animate", user_id=owner, attachments=attachments(fixtures))
    card = await discord_fake.wait_for_message(
        predicate=lambda m: m.nonce == "emo-card-1", timeout=60
    )
    await until(lambda: bool(simulator.submissions), "the job at the provider", within=60)

    # Still rendering: each 🔁 is refused; the owner hears it once, however often they react.
    for _ in range(5):
        await discord_fake.add_reaction(card.id, "🔁", user_id=owner)
        await asyncio.sleep(0.2)
    await until(lambda: len(_refusals(discord_fake, owner)) >= 1, "the refusal", within=20)
    # Another member is answered too, once.
    for _ in range(3):
        await discord_fake.add_reaction(card.id, "🔁", user_id=manager)
        await asyncio.sleep(0.2)
    await until(lambda: len(_refusals(discord_fake, manager)) >= 1, "their refusal", within=20)
    await asyncio.sleep(1.5)  # a second answer to either would have been posted by now
    assert len(_refusals(discord_fake, owner)) == 1
    assert len(_refusals(discord_fake, manager)) == 1
    assert bot.log_text().count("not answered: answered within the minute") == 6

    # Once the video is out, the owner's 🔁 within the same minute runs the retry at once.
    result = await discord_fake.wait_for_message(predicate=lambda m: is_video(m), timeout=120)
    await until(lambda: "job 1 delivering -> delivered" in bot.log_text(), "delivered", within=30)
    await discord_fake.add_reaction(result.id, "🔁", user_id=owner)
    await until(lambda: len(simulator.submissions) == 2, "the retried job", within=60)
    assert len(_refusals(discord_fake, owner)) == 1
    assert discord_fake.violations == []
