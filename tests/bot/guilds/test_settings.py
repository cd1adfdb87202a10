"""Per-server settings: defaults, validation with clear messages, who may change them."""

from __future__ import annotations

import pytest

from bot.errors import UserFacingError
from bot.guilds.services import GuildServices
from bot.guilds.settings import GuildSettingsStore, SettingName
from bot.jobs.models import Framing, Style
from bot.messages import MessageKey, render
from tests.bot.guilds.conftest import ADMIN, ALICE, GUILD, OTHER_GUILD, ServicesFactory
from tests.bot.guilds.rows import NOON, MovableClock, Rows


async def test_a_server_that_set_nothing_gets_the_bot_wide_defaults(
    make_services: ServicesFactory,
) -> None:
    services = make_services(
        emo_max_queued_per_server=7,
        emo_max_active_per_member=3,
        emo_member_seconds_per_day=120,
        emo_alert_channel_id=55,
    )
    settings = await services.settings.get(GUILD)
    assert settings.queue_cap == 7
    assert settings.active_per_member == 3
    assert settings.seconds_per_day == 120
    assert settings.monthly_budget_usd is None  # no budget unless one is set
    assert settings.output_channel_id is None
    assert settings.alert_channel_id == 55
    assert (settings.default_style, settings.default_framing) == (Style.NORMAL, Framing.HEAD)
    assert settings.dm_delivery is True
    assert settings.overridden == frozenset()


async def test_an_admin_sets_and_resets_and_the_history_says_who_and_when(
    services: GuildServices, clock: MovableClock
) -> None:
    changed = await services.settings.update(
        ADMIN,
        {
            "queue_cap": 5,
            "monthly_budget_usd": 12.5,
            "default_framing": "3:4",
            "dm_delivery": False,
            "output_channel_id": 777,
            "seconds_per_day": None,  # not given: left as it is
        },
    )
    assert changed.queue_cap == 5
    assert changed.monthly_budget_usd == 12.5
    assert changed.default_framing is Framing.HALF_BODY
    assert changed.dm_delivery is False
    assert changed.output_channel_id == 777
    assert changed.overridden == {
        SettingName.QUEUE_CAP,
        SettingName.MONTHLY_BUDGET,
        SettingName.DEFAULT_FRAMING,
        SettingName.DM_DELIVERY,
        SettingName.OUTPUT_CHANNEL,
    }
    # Another server is not affected.
    assert (await services.settings.get(OTHER_GUILD)).queue_cap == 20

    clock.advance(minutes=5)
    back = await services.settings.reset(ADMIN, [SettingName.QUEUE_CAP])
    assert back.queue_cap == 20
    assert SettingName.QUEUE_CAP not in back.overridden
    assert back.monthly_budget_usd == 12.5

    history = await services.settings.history(ADMIN)
    lines = [(c.name, c.old_value, c.new_value) for c in history]
    assert lines[0] == (SettingName.QUEUE_CAP, "5", None)  # newest first
    assert set(lines[1:]) == {
        (SettingName.QUEUE_CAP, None, "5"),
        (SettingName.MONTHLY_BUDGET, None, "12.5"),
        (SettingName.DEFAULT_FRAMING, None, '"3:4"'),
        (SettingName.DM_DELIVERY, None, "false"),
        (SettingName.OUTPUT_CHANNEL, None, "777"),
    }
    assert {c.changed_by for c in history} == {ADMIN.user_id}
    assert history[0].changed_at == clock.now


async def test_settings_survive_a_restart(services: GuildServices, store: Rows) -> None:
    await services.settings.update(ADMIN, {"active_per_member": 1})
    fresh = GuildSettingsStore(store.guilds, services.settings.defaults)
    assert (await fresh.get(GUILD)).active_per_member == 1


@pytest.mark.parametrize(
    ("name", "value", "low", "high"),
    [
        ("queue_cap", 0, 1, 1000),
        ("queue_cap", 1001, 1, 1000),
        ("active_per_member", 0, 1, 50),
        ("seconds_per_day", -1, 0, 86400),
        ("seconds_per_day", 86401, 0, 86400),
        ("monthly_budget_usd", -0.01, 0, 1000000),
    ],
)
async def test_a_bad_value_is_refused_naming_the_setting_and_its_range(
    make_services: ServicesFactory, name: str, value: float, low: int, high: int
) -> None:
    # Operator ceilings above the ranges: the ranges are what holds (tests/bot/guilds/
    # test_ceilings.py: a ceiling below them).
    services = make_services(emo_max_queued_per_server=5000, emo_max_active_per_member=100)
    with pytest.raises(UserFacingError) as refused:
        # All or nothing: the good value given alongside is not saved either.
        await services.settings.update(ADMIN, {"default_style": "calm", name: value})
    message = refused.value.message
    assert message.key is MessageKey.SETTING_OUT_OF_RANGE
    assert message.params == {"setting": name, "minimum": low, "maximum": high, "value": str(value)}
    assert render(message) == (
        f"`{name}` must be from {low} to {high}, so {value} cannot be used. Nothing was changed."
    )
    assert (await services.settings.get(GUILD)).overridden == frozenset()


async def test_values_of_the_wrong_kind_and_unknown_names_are_refused(
    services: GuildServices,
) -> None:
    with pytest.raises(UserFacingError) as wrong:
        await services.settings.update(ADMIN, {"default_style": "wild"})
    assert wrong.value.message.key is MessageKey.SETTING_INVALID
    assert wrong.value.message.params == {"setting": "default_style", "value": "wild"}
    with pytest.raises(UserFacingError) as unknown:
        await services.settings.update(ADMIN, {"volume": 11})
    assert unknown.value.message.key is MessageKey.SETTING_UNKNOWN
    with pytest.raises(UserFacingError) as empty:
        await services.settings.update(ADMIN, {"queue_cap": None})
    assert empty.value.message.key is MessageKey.SETTINGS_NOTHING_GIVEN


async def test_a_member_without_manage_server_cannot_change_or_read_the_history(
    services: GuildServices, store: Rows
) -> None:
    for attempt in (
        services.settings.update(ALICE, {"queue_cap": 100}),
        services.settings.reset(ALICE, list(SettingName)),
        services.settings.history(ALICE),
    ):
        with pytest.raises(UserFacingError) as refused:
            await attempt
        assert refused.value.message.key is MessageKey.MANAGE_SERVER_REQUIRED
    assert (await services.settings.get(GUILD)).queue_cap == 20
    assert await store.guilds.history(GUILD, 100) == []


async def test_a_stored_value_that_no_longer_validates_falls_back_to_the_default(
    services: GuildServices, store: Rows
) -> None:
    await services.settings.update(ADMIN, {"queue_cap": 9, "active_per_member": 2})
    # As if an older release had allowed 5000: the repository stores what it is given.
    await store.guilds.write(GUILD, {"queue_cap": "5000"}, by=ADMIN.user_id, at=NOON)
    settings = await services.settings.get(GUILD)
    assert settings.queue_cap == 20
    assert settings.active_per_member == 2
