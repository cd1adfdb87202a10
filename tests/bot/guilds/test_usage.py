"""Usage reports: a member's own, another's only for managers, the server's by member and month."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import UserFacingError
from bot.guilds.services import GuildServices
from bot.messages import MessageKey
from tests.bot.guilds.conftest import ADMIN, ALICE, BOB, GUILD, OTHER_GUILD
from tests.bot.guilds.rows import MovableClock, Rows, delivered, queued


async def _history(services: GuildServices, store: Rows, clock: MovableClock) -> None:
    """Alice: 10 s delivered today ($0.50), 4 s waiting; 20 s last month ($1). Bob: 30 s
    delivered today ($2). Alice in another server: 8 s ($3)."""
    admission = services.admission
    last_month = datetime(2025, 5, 20, tzinfo=UTC)
    job = await queued(
        store, admission, guild_id=GUILD, user_id=ALICE.user_id, seconds=20, at=last_month
    )
    await delivered(store, job, video_seconds=20, cost=1.0, at=last_month)
    job = await queued(
        store, admission, guild_id=GUILD, user_id=ALICE.user_id, seconds=10, at=clock.now
    )
    await delivered(store, job, video_seconds=10, cost=0.5, at=clock.now)
    await queued(store, admission, guild_id=GUILD, user_id=ALICE.user_id, seconds=4, at=clock.now)
    job = await queued(
        store, admission, guild_id=GUILD, user_id=BOB.user_id, seconds=30, at=clock.now
    )
    await delivered(store, job, video_seconds=30, cost=2.0, at=clock.now)
    job = await queued(
        store, admission, guild_id=OTHER_GUILD, user_id=ALICE.user_id, seconds=8, at=clock.now
    )
    await delivered(store, job, video_seconds=8, cost=3.0, at=clock.now)


async def test_a_member_sees_their_own_use_today_and_this_month(
    services: GuildServices, store: Rows, clock: MovableClock
) -> None:
    await _history(services, store, clock)
    report = await services.usage.member(ALICE)
    assert report.user_id == ALICE.user_id
    assert (report.today.jobs, report.today.seconds) == (2, 14)
    assert report.today.cost_usd == pytest.approx(0.5 + 4 * 0.011469)
    assert (report.month.jobs, report.month.seconds) == (2, 14)  # May is another month
    assert report.day_resets_at == datetime(2025, 6, 16, tzinfo=UTC)


async def test_only_a_manager_sees_another_members_use_or_the_servers(
    services: GuildServices, store: Rows, clock: MovableClock
) -> None:
    await _history(services, store, clock)
    with pytest.raises(UserFacingError) as refused:
        await services.usage.member(ALICE, BOB.user_id)
    assert refused.value.message.key is MessageKey.OTHERS_DATA_FORBIDDEN
    with pytest.raises(UserFacingError) as refused:
        await services.usage.server(BOB)
    assert refused.value.message.key is MessageKey.MANAGE_SERVER_REQUIRED

    bobs = await services.usage.member(ADMIN, BOB.user_id)
    assert (bobs.today.seconds, bobs.today.cost_usd) == (30, 2.0)


async def test_the_server_report_totals_this_month_by_member_and_past_months(
    services: GuildServices, store: Rows, clock: MovableClock
) -> None:
    await services.settings.update(ADMIN, {"monthly_budget_usd": 10})
    await _history(services, store, clock)
    report = await services.usage.server(ADMIN)
    assert report.monthly_budget_usd == 10
    assert (report.month.jobs, report.month.seconds) == (3, 44)
    assert report.month.cost_usd == pytest.approx(2.5 + 4 * 0.011469)
    assert [(user, totals.seconds) for user, totals in report.by_member] == [
        (BOB.user_id, 30),  # the most expensive first
        (ALICE.user_id, 14),
    ]
    assert [(month, totals.jobs, totals.cost_usd) for month, totals in report.by_month] == [
        ("2025-06", 3, pytest.approx(2.5 + 4 * 0.011469)),
        ("2025-05", 1, 1.0),
    ]
    assert report.month_resets_at == datetime(2025, 7, 1, tzinfo=UTC)
