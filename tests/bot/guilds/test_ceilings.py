"""Operator limits are ceilings: a server may lower them, never raise them; a value stored
above one counts as the ceiling; a server on an account of its own sets its own."""

from __future__ import annotations

import pytest

from bot.errors import UserFacingError
from bot.guilds.access import Viewer
from bot.guilds.settings import SettingName
from bot.jobs.repository import Caps
from bot.messages import MessageKey, render
from cogs.shared.reports import settings_view
from tests.bot.guilds.conftest import ADMIN, GUILD, OTHER_GUILD, OwnAccounts, ServicesFactory
from tests.bot.guilds.rows import NOON, Rows

OPERATOR = {
    "emo_max_queued_per_server": 10,
    "emo_max_active_per_member": 3,
    "emo_member_seconds_per_day": 120,
    "emo_monthly_budget_usd": 5,
}


@pytest.mark.parametrize(
    ("name", "above", "ceiling"),
    [
        ("queue_cap", 11, "10"),
        ("active_per_member", 50, "3"),
        ("seconds_per_day", 86_400, "120"),
        ("monthly_budget_usd", 1_000_000, "5.00"),
        # Outside the plain range as well: the ceiling is what the admin needs to know.
        ("queue_cap", 1001, "10"),
        ("monthly_budget_usd", 2_000_000, "5.00"),
    ],
)
async def test_an_admin_cannot_raise_a_limit_above_the_operators(
    make_services: ServicesFactory, name: str, above: float, ceiling: str
) -> None:
    services = make_services(**OPERATOR)
    with pytest.raises(UserFacingError) as refused:
        # All or nothing: the good value given alongside is not saved either.
        await services.settings.update(ADMIN, {"default_style": "calm", name: above})
    message = refused.value.message
    assert message.key is MessageKey.SETTING_ABOVE_CEILING
    assert message.params["setting"] == name
    assert message.params["ceiling"] == ceiling
    assert render(message, "en-US") == (
        f"`{name}` can be at most {ceiling} in this server: that is the limit the bot's "
        f"operator set, and a server may lower it but not raise it. {message.params['value']} "
        "cannot be used. Nothing was changed."
    )
    for locale in ("ja", "zh-CN"):
        localized = render(message, locale)
        assert f"`{name}`" in localized
        assert ceiling in localized
        assert "operator" not in localized  # translated, not the English fallback
    assert (await services.settings.get(GUILD)).overridden == frozenset()


async def test_a_limit_may_be_lowered_or_set_to_the_ceiling_itself(
    make_services: ServicesFactory,
) -> None:
    services = make_services(**OPERATOR)
    lowered = await services.settings.update(
        ADMIN,
        {"queue_cap": 10, "active_per_member": 1, "seconds_per_day": 0, "monthly_budget_usd": 5},
    )
    assert (lowered.queue_cap, lowered.active_per_member) == (10, 1)
    assert (lowered.seconds_per_day, lowered.monthly_budget_usd) == (0, 5)
    assert lowered.clamped == {}
    assert await services.admission.caps(OTHER_GUILD, 2) == Caps(3, 10)


async def test_an_empty_bot_wide_limit_is_no_ceiling_but_the_caps_always_are(
    make_services: ServicesFactory,
) -> None:
    services = make_services()  # no allowance and no budget; caps 2 and 20
    roomy = await services.settings.update(
        ADMIN, {"seconds_per_day": 86_400, "monthly_budget_usd": 1_000_000}
    )
    assert (roomy.seconds_per_day, roomy.monthly_budget_usd) == (86_400, 1_000_000)
    assert roomy.ceilings == {SettingName.QUEUE_CAP: 20, SettingName.ACTIVE_PER_MEMBER: 2}
    with pytest.raises(UserFacingError) as refused:
        await services.settings.update(ADMIN, {"queue_cap": 1000})
    assert refused.value.message.params["ceiling"] == "20"


async def test_values_stored_above_the_ceiling_count_as_the_ceiling(
    make_services: ServicesFactory, store: Rows
) -> None:
    # Saved before the ceilings existed, or under a higher one the operator lowered since.
    await store.guilds.write(
        GUILD,
        {"queue_cap": "500", "active_per_member": "2", "monthly_budget_usd": "1000000"},
        by=ADMIN.user_id,
        at=NOON,
    )
    services = make_services(**OPERATOR)
    settings = await services.settings.get(GUILD)
    assert (settings.queue_cap, settings.active_per_member) == (10, 2)  # 2 is below its 3
    assert settings.monthly_budget_usd == 5
    assert settings.clamped == {SettingName.QUEUE_CAP: 500, SettingName.MONTHLY_BUDGET: 1e6}
    # What admission and the usage report go by is the effective limit.
    assert await services.admission.caps(GUILD, 2) == Caps(2, 10)
    assert (await services.usage.server(ADMIN)).monthly_budget_usd == 5

    lines = settings_view(settings, "en-US").splitlines()
    assert (
        "Videos waiting in this server's queue, at most: 10 ✱ (the operator's limit: this "
        "server's own 500 is above it)"
    ) in lines
    assert ("Videos on their way per member, at most: 2 ✱ (the operator's limit: 3)") in lines
    assert "Seconds of video per member per day (UTC): 120 (the operator's limit: 120)" in lines
    assert (
        "Monthly budget (USD, UTC calendar month): $5.00 ✱ (the operator's limit: this "
        "server's own $1000000.00 is above it)"
    ) in lines
    assert "运营者的上限：3" in settings_view(settings, "zh-CN")
    assert "運営者の上限: 3" in settings_view(settings, "ja")


async def test_a_server_on_its_own_account_sets_its_own_limits(
    make_services: ServicesFactory, store: Rows
) -> None:
    services = make_services(accounts=OwnAccounts(GUILD), **OPERATOR)
    own = await services.settings.update(ADMIN, {"queue_cap": 500, "monthly_budget_usd": 900})
    assert (own.queue_cap, own.monthly_budget_usd) == (500, 900)
    assert own.ceilings == {}
    assert await services.admission.caps(GUILD, 2) == Caps(3, 500)
    # The plain ranges still hold, and every other server is under the ceilings.
    with pytest.raises(UserFacingError) as typo:
        await services.settings.update(ADMIN, {"queue_cap": 1001})
    assert typo.value.message.key is MessageKey.SETTING_OUT_OF_RANGE
    other = Viewer(guild_id=OTHER_GUILD, user_id=ADMIN.user_id, manages_server=True)
    with pytest.raises(UserFacingError) as refused:
        await services.settings.update(other, {"queue_cap": 500})
    assert refused.value.message.key is MessageKey.SETTING_ABOVE_CEILING
