"""Quotas and budgets: what counts, where the line is, and when it resets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.guilds.admission import QuotaExceededError
from bot.guilds.services import GuildServices
from bot.jobs.models import Framing, JobChanges
from bot.jobs.repository import Caps
from bot.jobs.states import JobState
from bot.messages import MessageKey, render
from tests.bot.guilds.conftest import ADMIN, GUILD, OTHER_GUILD, ServicesFactory
from tests.bot.guilds.rows import (
    MovableClock,
    Rows,
    admit,
    delivered,
    preparing,
    queued,
    rendered,
)

MIDNIGHT_AFTER_NOON = int(datetime(2025, 6, 16, tzinfo=UTC).timestamp())
JULY_FIRST = int(datetime(2025, 7, 1, tzinfo=UTC).timestamp())


async def test_a_member_makes_their_daily_seconds_and_no_more_until_midnight_utc(
    make_services: ServicesFactory, store: Rows, clock: MovableClock
) -> None:
    services = make_services(emo_member_seconds_per_day=25)
    admission = services.admission
    alice, bob = 2, 3

    async def make(user: int, seconds: float) -> object:
        return await queued(
            store, admission, guild_id=GUILD, user_id=user, seconds=seconds, at=clock.now
        )

    await make(alice, 10)
    await make(alice, 10)
    refused = await preparing(store, guild_id=GUILD, user_id=alice, at=clock.now)
    with pytest.raises(QuotaExceededError) as caught:
        await admit(store, admission, refused, 10)
    message = caught.value.message
    assert message.key is MessageKey.QUOTA_DAILY_SECONDS
    assert message.params == {
        "needed": 10.0,
        "used": 20.0,
        "left": 5.0,
        "limit": 25,
        "resets_at": MIDNIGHT_AFTER_NOON,
    }
    assert f"<t:{MIDNIGHT_AFTER_NOON}:F>" in render(message)
    # Refused inside the transaction: nothing was written, not even the estimate.
    row = await store.jobs.get(refused.id)
    assert (row.state, row.estimate_usd, row.audio_seconds) == (JobState.PREPARING, None, None)

    await make(alice, 5)  # exactly fills the allowance
    with pytest.raises(QuotaExceededError) as used_up:
        await admission.caps(GUILD, alice)  # refused before anything is downloaded
    assert used_up.value.message.key is MessageKey.QUOTA_DAILY_USED_UP
    assert used_up.value.message.params["resets_at"] == MIDNIGHT_AFTER_NOON

    await make(bob, 25)  # another member has their own allowance
    assert await admission.caps(OTHER_GUILD, alice) == Caps(2, 20)  # another server

    clock.advance(hours=12)  # 00:00 UTC the next day
    await admission.caps(GUILD, alice)
    await make(alice, 25)


async def test_only_queued_and_billed_jobs_count_with_billed_seconds_and_real_costs(
    services: GuildServices, store: Rows, clock: MovableClock
) -> None:
    admission, user = services.admission, 2
    # Refused at preparation: never counts.
    gone = await preparing(store, guild_id=GUILD, user_id=user, at=clock.now)
    await store.jobs.transition(gone, JobState.REJECTED)
    # Failed at the provider before any billing: does not count.
    failed = await queued(store, admission, guild_id=GUILD, user_id=user, seconds=7, at=clock.now)
    failed = await rendered(store, failed, task="t-failed")
    await store.jobs.transition(failed, JobState.FAILED)
    # Billed, then lost on the way to Discord: counts, with what was billed.
    lost = await queued(store, admission, guild_id=GUILD, user_id=user, seconds=6, at=clock.now)
    lost = await rendered(store, lost, task="t-lost")
    lost = await store.jobs.transition(
        lost, JobState.SUCCEEDED, JobChanges(result_url="u", video_seconds=6.5, cost_usd=0.2)
    )
    await store.jobs.transition(lost, JobState.EXPIRED)
    # Delivered: counts with the billed length and the real cost, not the estimate.
    done = await queued(store, admission, guild_id=GUILD, user_id=user, seconds=10, at=clock.now)
    assert done.estimate_usd == pytest.approx(10 * 0.011469)
    await delivered(store, done, video_seconds=9.5, cost=0.5, at=clock.now)
    # On its way: counts with its audio length and its estimate.
    waiting = await queued(
        store,
        admission,
        guild_id=GUILD,
        user_id=user,
        seconds=4,
        at=clock.now,
        framing=Framing.HALF_BODY,
    )
    assert waiting.estimate_usd == pytest.approx(4 * 0.022937)

    used = await store.jobs.totals(
        guild_id=GUILD, user_id=user, since=clock.now, until=clock.now.replace(hour=13)
    )
    assert used.jobs == 3
    assert used.seconds == pytest.approx(6.5 + 9.5 + 4)
    assert used.cost_usd == pytest.approx(0.2 + 0.5 + 4 * 0.022937)


async def test_a_server_spends_up_to_its_budget_and_is_refused_until_the_next_month(
    make_services: ServicesFactory, store: Rows, clock: MovableClock
) -> None:
    services = make_services(emo_price_head_usd_per_second=0.01)
    admission = services.admission
    await services.settings.update(ADMIN, {"monthly_budget_usd": 0.30})

    first = await queued(store, admission, guild_id=GUILD, user_id=2, seconds=10, at=clock.now)
    assert first.estimate_usd == pytest.approx(0.10)
    await delivered(store, first, video_seconds=10, cost=0.10, at=clock.now)
    await queued(store, admission, guild_id=GUILD, user_id=3, seconds=10, at=clock.now)
    await queued(store, admission, guild_id=GUILD, user_id=4, seconds=10, at=clock.now)  # 0.30

    over = await preparing(store, guild_id=GUILD, user_id=2, at=clock.now)
    with pytest.raises(QuotaExceededError):
        await admit(store, admission, over, 0.5)
    with pytest.raises(QuotaExceededError) as caught:
        await admission.caps(GUILD, 5)
    message = caught.value.message
    assert message.key is MessageKey.QUOTA_BUDGET_USED_UP
    assert message.params == {"spent": "0.300", "budget": "0.300", "resets_at": JULY_FIRST}
    assert f"<t:{JULY_FIRST}:F>" in render(message)

    # Other servers have their own budget; a new month starts afresh.
    await queued(store, admission, guild_id=OTHER_GUILD, user_id=2, seconds=50, at=clock.now)
    clock.now = datetime(2025, 7, 1, tzinfo=UTC)
    await queued(store, admission, guild_id=GUILD, user_id=2, seconds=30, at=clock.now)


async def test_a_server_at_the_operators_budget_is_not_told_its_admins_can_raise_it(
    make_services: ServicesFactory, store: Rows, clock: MovableClock
) -> None:
    # The operator's monthly budget per server is the ceiling: this server uses all of it.
    services = make_services(emo_price_head_usd_per_second=0.01, emo_monthly_budget_usd=0.20)
    admission = services.admission
    first = await queued(store, admission, guild_id=GUILD, user_id=2, seconds=10, at=clock.now)
    await delivered(store, first, video_seconds=10, cost=0.10, at=clock.now)

    longer = await preparing(store, guild_id=GUILD, user_id=3, at=clock.now)
    with pytest.raises(QuotaExceededError) as caught:
        await admit(store, admission, longer, 15)  # $0.15 of the $0.10 left
    message = caught.value.message
    assert message.key is MessageKey.QUOTA_MONTHLY_BUDGET_AT_CEILING
    assert "the most the bot's operator allows a server" in render(message)
    assert "raise" not in render(message)

    await queued(store, admission, guild_id=GUILD, user_id=4, seconds=10, at=clock.now)
    with pytest.raises(QuotaExceededError) as caught:
        await admission.caps(GUILD, 5)
    assert caught.value.message.key is MessageKey.QUOTA_BUDGET_USED_UP_AT_CEILING
    assert "raise" not in render(caught.value.message)
    # Below the ceiling, a server's own lower budget can be raised by its admins: they are
    # told so.
    await services.settings.update(ADMIN, {"monthly_budget_usd": 0.15})
    with pytest.raises(QuotaExceededError) as caught:
        await admission.caps(GUILD, 5)
    assert caught.value.message.key is MessageKey.QUOTA_BUDGET_USED_UP


async def test_the_refusal_says_how_much_is_left_and_the_december_budget_resets_in_january(
    make_services: ServicesFactory, store: Rows, clock: MovableClock
) -> None:
    clock.now = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    services = make_services(emo_monthly_budget_usd=1.0, emo_price_half_body_usd_per_second=0.05)
    admission = services.admission
    await queued(
        store,
        admission,
        guild_id=GUILD,
        user_id=2,
        seconds=12,
        at=clock.now,
        framing=Framing.HALF_BODY,
    )  # 0.60
    job = await preparing(store, guild_id=GUILD, user_id=2, at=clock.now, framing=Framing.HALF_BODY)
    with pytest.raises(QuotaExceededError) as caught:
        await admit(store, admission, job, 10)  # 0.50 > 0.40 left
    assert caught.value.message.params == {
        "estimate": "0.500",
        "spent": "0.600",
        "left": "0.400",
        "budget": "1.00",
        "resets_at": int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()),
    }


async def test_caps_come_from_the_server_and_jobs_outside_servers_have_no_quotas(
    make_services: ServicesFactory, store: Rows, clock: MovableClock
) -> None:
    services = make_services(emo_member_seconds_per_day=1, emo_monthly_budget_usd=0)
    await services.settings.update(ADMIN, {"queue_cap": 3, "active_per_member": 1})
    assert await services.admission.caps(None, 2) == Caps(2, 20)
    # The command line (no server) is the operator's own: no allowance, no budget.
    job = await preparing(store, guild_id=None, user_id=2, at=clock.now)
    assert (await admit(store, services.admission, job, 30)).state is JobState.QUEUED
    # The same server's caps, once the operator sets no allowance and no budget.
    assert await make_services().admission.caps(GUILD, 2) == Caps(1, 3)


async def test_two_jobs_racing_for_the_last_seconds_cannot_both_get_in(
    make_services: ServicesFactory, store: Rows, clock: MovableClock
) -> None:
    services = make_services(emo_member_seconds_per_day=15)
    jobs = [await preparing(store, guild_id=GUILD, user_id=2, at=clock.now) for _ in range(2)]
    results = await asyncio.gather(
        *(admit(store, services.admission, job, 10) for job in jobs), return_exceptions=True
    )
    assert sorted(type(result).__name__ for result in results) == ["Job", "QuotaExceededError"]
