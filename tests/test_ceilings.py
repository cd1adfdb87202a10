"""Operator limits are ceilings, through the real bot process, the fake Discord and the
simulator: an admin cannot raise a limit above the operator's, and the bot-wide monthly
budget refuses the next video, in any server, with the day it starts afresh.

Nothing is patched: the bot is configured by its environment only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import next_month
from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.support.e2e import answer, attachments, job_histories, started, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def test_an_admin_cannot_raise_a_limit_above_the_operators(
    bot_process: BotFactory, discord_fake: FakeDiscord
) -> None:
    fake = discord_fake
    admin = fake.add_member(name="ada", manage_guild=True)
    bot = bot_process(EMO_MAX_QUEUED_PER_SERVER="10", EMO_MONTHLY_BUDGET_USD="5")
    await started(bot, fake)
    await fake.wait_for_commands(names=["emo-admin"])

    async def set_(needle: str, locale: str = "en-US", **options: int | float) -> FakeMessage:
        interaction = await fake.invoke_slash(
            "emo-admin set", user_id=admin, options=options, locale=locale
        )
        return await answer(interaction, needle)

    await set_(
        "`monthly_budget_usd` can be at most 5.00 in this server: that is the limit the bot's "
        "operator set, and a server may lower it but not raise it. 1000000.00 cannot be used. "
        "Nothing was changed.",
        monthly_budget_usd=1_000_000,
    )
    await set_("`queue_cap` can be at most 10 in this server", queue_cap=1000)
    await set_("`queue_cap` は最大 10 です", locale="ja", queue_cap=11)
    await set_("`queue_cap` 最多为 10", locale="zh-CN", queue_cap=11)
    settings = await fake.invoke_slash("emo-admin settings", user_id=admin)
    view = (await answer(settings, "This server's settings")).content
    assert "Videos waiting in this server's queue, at most: 10 (the operator's limit: 10)" in view

    # Lower is allowed, and the view shows the effective value beside the ceiling.
    saved = await set_("Saved:", queue_cap=4, monthly_budget_usd=2.5)
    assert "at most: 4 ✱ (the operator's limit: 10)" in saved.content
    assert "Monthly budget (USD, UTC calendar month): $2.50 ✱ (the operator's limit: $5.00)" in (
        saved.content
    )
    assert fake.violations == []


async def test_the_bot_wide_budget_refuses_the_next_video_with_the_reset_date(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path
) -> None:
    fake = discord_fake
    elsewhere = fake.add_guild("Elsewhere")
    lobby = fake.add_channel(elsewhere, "lobby")
    there = fake.add_member(name="tom", guild_id=elsewhere)
    here = fake.add_member(name="hal")
    # The sample voice note makes about 10 s of video: $0.20 at 2 cents a second. The budget
    # takes that one video, and what is left ($0.005) pays for no video at all (0.5 s at
    # least, $0.01): the bot-wide budget is spent.
    bot = bot_process(EMO_PRICE_HEAD_USD_PER_SECOND="0.02", EMO_TOTAL_MONTHLY_BUDGET_USD="0.205")
    await started(bot, fake)
    await fake.wait_for_commands(names=["emo"])

    await fake.invoke_slash("emo animate", user_id=here, attachments=attachments(fixtures))
    await until(
        lambda: [h[-1] for h in job_histories(bot)] == ["delivered"], "the first video delivered"
    )
    assert len(simulator.submissions) == 1

    # Another server: the budget is one for all servers on the bot's accounts.
    resets = int(next_month(datetime.now(UTC)).timestamp())
    for user, channel in ((there, lobby), (here, None)):
        refused = await fake.invoke_slash(
            "emo animate", user_id=user, channel_id=channel, attachments=attachments(fixtures)
        )
        said = await answer(refused, "monthly budget for all servers is used up")
        assert f"no new videos can be made until <t:{resets}:D>." in said.content
        assert said.ephemeral
    # Refused when asked, before anything was downloaded or stored, let alone submitted.
    assert len(job_histories(bot)) == 1
    assert len(simulator.submissions) == 1
    assert bot.log_text().count("bot-wide monthly budget reached") == 1
    assert fake.violations == []
