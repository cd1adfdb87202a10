"""The job audit: managers list and filter a server's jobs; members cannot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import UserFacingError
from bot.guilds.audit import PAGE_SIZE, AuditQuery, parse_query
from bot.guilds.services import GuildServices
from bot.jobs.models import JobChanges
from bot.jobs.states import JobState
from bot.messages import MessageKey
from tests.bot.guilds.conftest import ADMIN, ALICE, BOB, GUILD, OTHER_GUILD
from tests.bot.guilds.rows import MovableClock, Rows, delivered, preparing, queued


async def test_a_manager_lists_who_where_when_hashes_and_cost_newest_first(
    services: GuildServices, store: Rows, clock: MovableClock
) -> None:
    job = await queued(
        store, services.admission, guild_id=GUILD, user_id=ALICE.user_id, seconds=10, at=clock.now
    )
    job = await store.jobs.annotate(job, JobChanges(image_sha256="a" * 64, audio_sha256="b" * 64))
    await delivered(store, job, video_seconds=9.9, cost=0.11, at=clock.now)
    refused = await preparing(store, guild_id=GUILD, user_id=BOB.user_id, at=clock.now)
    await store.jobs.transition(refused, JobState.REJECTED)
    await preparing(store, guild_id=OTHER_GUILD, user_id=BOB.user_id, at=clock.now)

    page = await services.audit.page(ADMIN, AuditQuery())
    assert page.total == 2  # the other server's job is not listed
    newest, oldest = page.entries
    assert (newest.job_id, newest.user_id, newest.state) == (
        refused.id,
        BOB.user_id,
        JobState.REJECTED,
    )
    assert newest.cost_usd is None
    assert oldest.job_id == job.id
    assert (oldest.channel_id, oldest.created_at) == (500, clock.now)
    assert (oldest.image_sha256, oldest.audio_sha256) == ("a" * 64, "b" * 64)
    assert (oldest.video_seconds, oldest.cost_usd) == (9.9, 0.11)
    assert oldest.estimate_usd == pytest.approx(10 * 0.011469)
    assert oldest.media_deleted is False


async def test_filters_by_member_state_and_days_and_pages(
    services: GuildServices, store: Rows, clock: MovableClock
) -> None:
    days = [clock.now - timedelta(days=n) for n in range(3)]  # 15, 14 and 13 June
    for day in days:
        for user in (ALICE.user_id, BOB.user_id):
            await preparing(store, guild_id=GUILD, user_id=user, at=day)
    for _ in range(PAGE_SIZE + 1):
        await preparing(
            store, guild_id=GUILD, user_id=ALICE.user_id, at=datetime(2025, 1, 1, tzinfo=UTC)
        )

    bobs = await services.audit.page(ADMIN, parse_query(user_id=BOB.user_id))
    assert bobs.total == 3
    assert {entry.user_id for entry in bobs.entries} == {BOB.user_id}
    window = await services.audit.page(ADMIN, parse_query(since="2025-06-14", until="2025-06-14"))
    assert [entry.created_at for entry in window.entries] == [days[1], days[1]]
    assert (await services.audit.page(ADMIN, parse_query(state="delivered"))).total == 0
    assert (
        await services.audit.page(ADMIN, parse_query(state="preparing"))
    ).total == 6 + PAGE_SIZE + 1

    january = parse_query(user_id=ALICE.user_id, until="2025-01-31")
    first = await services.audit.page(ADMIN, january)
    assert (first.total, first.pages, len(first.entries)) == (PAGE_SIZE + 1, 2, PAGE_SIZE)
    second = await services.audit.page(ADMIN, january.model_copy(update={"page": 9}))
    assert (second.page, len(second.entries)) == (2, 1)  # past the end: the last page


@pytest.mark.parametrize(
    ("filters", "key"),
    [
        ({"since": "15/06/2025"}, MessageKey.AUDIT_BAD_DATE),
        ({"until": "yesterday"}, MessageKey.AUDIT_BAD_DATE),
        ({"since": "2025-06-15", "until": "2025-06-01"}, MessageKey.AUDIT_BAD_RANGE),
        ({"state": "sleeping"}, MessageKey.AUDIT_BAD_STATE),
    ],
)
def test_bad_filters_are_refused_with_what_to_type(
    filters: dict[str, str], key: MessageKey
) -> None:
    with pytest.raises(UserFacingError) as refused:
        parse_query(**filters)
    assert refused.value.message.key is key


async def test_a_member_cannot_list_the_servers_jobs(services: GuildServices) -> None:
    with pytest.raises(UserFacingError) as refused:
        await services.audit.page(ALICE, AuditQuery(user_id=ALICE.user_id))
    assert refused.value.message.key is MessageKey.MANAGE_SERVER_REQUIRED
