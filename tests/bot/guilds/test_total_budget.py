"""The bot-wide monthly budget: every server on the shared accounts together, refused with the
day it starts afresh, the operator told once a month; servers on their own account apart."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from bot.guilds.total_budget import TotalBudgetExceededError
from bot.jobs.states import JobState
from bot.messages import Markup, MessageKey, Moment, MomentStyle, render
from tests.bot.guilds.conftest import GUILD, OTHER_GUILD, OwnAccounts, ServicesFactory
from tests.bot.guilds.rows import MovableClock, Rows, admit, delivered, preparing, queued

THIRD_GUILD = 333
JULY_FIRST = datetime(2025, 7, 1, tzinfo=UTC)
RESETS_ON = Moment(at=JULY_FIRST, style=MomentStyle.DATE)
DISCORD_LIKE = Markup(
    mention=lambda user_id: f"<@{user_id}>",
    moment=lambda at: f"<t:{int(at.timestamp())}:R>",
    link=lambda _: "",
    date=lambda at: f"<t:{int(at.timestamp())}:D>",
)
CENT_A_SECOND = {"emo_price_head_usd_per_second": 0.01}


async def test_servers_on_the_shared_accounts_spend_the_budget_together_until_next_month(
    make_services: ServicesFactory, store: Rows, clock: MovableClock
) -> None:
    services = make_services(emo_total_monthly_budget_usd=0.30, **CENT_A_SECOND)
    admission = services.admission

    async def make(guild_id: int | None, seconds: float) -> object:
        job = await preparing(store, guild_id=guild_id, user_id=2, at=clock.now)
        return await admit(store, admission, job, seconds)

    await make(None, 30)  # the command line is the operator's own: neither counted nor refused
    first = await queued(store, admission, guild_id=GUILD, user_id=2, seconds=10, at=clock.now)
    await delivered(store, first, video_seconds=5, cost=0.05, at=clock.now)  # the real cost
    await make(OTHER_GUILD, 10)  # on its way: its estimate, 0.10; 0.15 spent in all

    refused = await preparing(store, guild_id=THIRD_GUILD, user_id=2, at=clock.now)
    with pytest.raises(TotalBudgetExceededError) as too_much:
        await admit(store, admission, refused, 20)  # 0.20 > 0.15 left
    message = too_much.value.message
    assert message.key is MessageKey.TOTAL_BUDGET_TOO_LITTLE_LEFT
    assert message.params == {"estimate": "0.200", "resets_on": RESETS_ON}
    # Refused in the queueing transaction: nothing was written, nothing will be submitted.
    row = await store.jobs.get(refused.id)
    assert (row.state, row.estimate_usd) == (JobState.PREPARING, None)

    await make(THIRD_GUILD, 15)  # 0.15: exactly what was left
    with pytest.raises(TotalBudgetExceededError) as spent:
        await admission.caps(THIRD_GUILD, 9)  # at once, before anything is downloaded
    used_up = spent.value.message
    assert used_up.key is MessageKey.TOTAL_BUDGET_USED_UP
    assert used_up.params == {"resets_on": RESETS_ON}
    assert f"until <t:{int(JULY_FIRST.timestamp())}:D>." in render(used_up, "en", DISCORD_LIKE)
    assert "until 2025-07-01 UTC." in render(used_up)  # the command line's plain text
    assert f"<t:{int(JULY_FIRST.timestamp())}:D>" in render(used_up, "ja", DISCORD_LIKE)
    assert f"<t:{int(JULY_FIRST.timestamp())}:D>" in render(used_up, "zh-CN", DISCORD_LIKE)
    # Even the shortest video no longer fits: the refusal in the transaction says so too.
    with pytest.raises(TotalBudgetExceededError) as shortest:
        await make(GUILD, 0.5)
    assert shortest.value.message.key is MessageKey.TOTAL_BUDGET_USED_UP
    await admission.caps(None, 2)
    await make(None, 10)

    clock.now = JULY_FIRST  # a new month starts afresh
    await admission.caps(THIRD_GUILD, 9)
    await make(THIRD_GUILD, 30)


async def test_the_operator_hears_once_a_month_that_the_budget_is_reached(
    make_services: ServicesFactory,
    store: Rows,
    clock: MovableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = make_services(emo_total_monthly_budget_usd=0.10, **CENT_A_SECOND)
    admission = services.admission
    await queued(store, admission, guild_id=GUILD, user_id=2, seconds=10, at=clock.now)

    def warnings() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "bot.guilds.total_budget" and r.levelno == logging.WARNING
        ]

    with caplog.at_level(logging.DEBUG, logger="bot.guilds.total_budget"):
        for guild_id in (GUILD, OTHER_GUILD, THIRD_GUILD):
            with pytest.raises(TotalBudgetExceededError):
                await admission.caps(guild_id, 2)
        job = await preparing(store, guild_id=OTHER_GUILD, user_id=2, at=clock.now)
        with pytest.raises(TotalBudgetExceededError):
            await admit(store, admission, job, 5)
        assert warnings() == [
            "bot-wide monthly budget reached: 0.1000 of 0.10 USD spent this month by the "
            "servers on the shared accounts; their new jobs are refused until 2025-07-01"
        ]
        clock.now = JULY_FIRST
        await queued(store, admission, guild_id=GUILD, user_id=2, seconds=10, at=clock.now)
        with pytest.raises(TotalBudgetExceededError):
            await admission.caps(GUILD, 2)
    assert len(warnings()) == 2
    assert warnings()[1].endswith("refused until 2025-08-01")


async def test_a_server_on_its_own_account_is_neither_refused_nor_counted(
    make_services: ServicesFactory, store: Rows, clock: MovableClock
) -> None:
    own = THIRD_GUILD
    services = make_services(
        accounts=OwnAccounts(own), emo_total_monthly_budget_usd=0.10, **CENT_A_SECOND
    )
    admission = services.admission
    for _ in range(3):  # 0.30 on its own account, three times the bot-wide budget
        await queued(store, admission, guild_id=own, user_id=2, seconds=10, at=clock.now)
    await queued(store, admission, guild_id=GUILD, user_id=2, seconds=10, at=clock.now)  # 0.10
    with pytest.raises(TotalBudgetExceededError):
        await admission.caps(OTHER_GUILD, 2)
    await admission.caps(own, 2)
    await queued(store, admission, guild_id=own, user_id=2, seconds=10, at=clock.now)


async def test_two_servers_racing_for_the_last_of_the_budget_cannot_both_get_in(
    make_services: ServicesFactory, store: Rows, clock: MovableClock
) -> None:
    services = make_services(emo_total_monthly_budget_usd=0.15, **CENT_A_SECOND)
    jobs = [
        await preparing(store, guild_id=guild_id, user_id=2, at=clock.now)
        for guild_id in (GUILD, OTHER_GUILD)
    ]
    results = await asyncio.gather(
        *(admit(store, services.admission, job, 10) for job in jobs), return_exceptions=True
    )
    assert sorted(type(result).__name__ for result in results) == [
        "Job",
        "TotalBudgetExceededError",
    ]
