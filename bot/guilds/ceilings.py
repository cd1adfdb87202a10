"""Operator limits are ceilings: a server may lower a bot-wide limit, never raise it.

Every per-server limit with a bot-wide setting (``EMO_MAX_QUEUED_PER_SERVER``,
``EMO_MAX_ACTIVE_PER_MEMBER``, ``EMO_MEMBER_SECONDS_PER_DAY``, ``EMO_MONTHLY_BUDGET_USD``)
is the most a server may set: a higher value is refused naming the ceiling, and a value
stored above one (saved before the ceilings, or under a higher one) counts as the ceiling
when read, so the effective limit is the lower of the two. An empty bot-wide setting (no
limit) is no ceiling. A server on an account of its own (``AccountPlans``) sets its own
limits, within the settings' plain ranges only.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.clock import Clock, system_clock
from bot.errors import UserFacingError
from bot.guilds.access import Viewer
from bot.guilds.accounts import AccountPlans, SharedAccountsOnly
from bot.guilds.money import usd
from bot.guilds.repository import GuildRepository
from bot.guilds.settings import (
    GuildSettings,
    GuildSettingsStore,
    SettingName,
    validate_changes,
)
from bot.messages import MessageKey
from bot.settings import Settings

Ceilings = Mapping[SettingName, int | float]


def operator_ceilings(settings: Settings) -> dict[SettingName, int | float]:
    """The bot-wide limits a server may not exceed (those the operator left empty: none)."""
    bot_wide: dict[SettingName, int | float | None] = {
        SettingName.QUEUE_CAP: settings.emo_max_queued_per_server,
        SettingName.ACTIVE_PER_MEMBER: settings.emo_max_active_per_member,
        SettingName.SECONDS_PER_DAY: settings.emo_member_seconds_per_day,
        SettingName.MONTHLY_BUDGET: settings.emo_monthly_budget_usd,
    }
    return {name: value for name, value in bot_wide.items() if value is not None}


def shown(name: SettingName, value: int | float) -> str:
    """A limit as admins read it: dollars with cents, counts and seconds as they are."""
    return usd(value) if name is SettingName.MONTHLY_BUDGET else str(value)


def refuse_above(ceilings: Ceilings, values: Mapping[str, object]) -> None:
    """Raise UserFacingError naming the first number of ``values`` above its ceiling."""
    for name, ceiling in ceilings.items():
        value = values.get(name.value)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > ceiling:
            raise UserFacingError(
                MessageKey.SETTING_ABOVE_CEILING,
                setting=name.option,
                ceiling=shown(name, ceiling),
                value=shown(name, value),
            )


def clamp(settings: GuildSettings, ceilings: Ceilings) -> GuildSettings:
    """``settings`` with each value above its ceiling lowered to it (the server's own value
    kept in ``clamped`` for the settings view) and the ceilings that apply."""
    lowered: dict[str, int | float] = {}
    clamped: dict[SettingName, int | float] = {}
    for name, ceiling in ceilings.items():
        value = getattr(settings, name.value)
        if value is None or value > ceiling:  # None: no limit, the most of all
            lowered[name.value] = ceiling
            if value is not None:
                clamped[name] = value
    return settings.model_copy(update={**lowered, "ceilings": dict(ceilings), "clamped": clamped})


class CeilingSettingsStore(GuildSettingsStore):
    """The per-server settings under the operator's ceilings: what the rest of the bot reads
    (``get``) and what admins may set (``update``)."""

    def __init__(
        self,
        guilds: GuildRepository,
        defaults: GuildSettings,
        clock: Clock = system_clock,
        *,
        ceilings: Ceilings,
        accounts: AccountPlans | None = None,
    ) -> None:
        super().__init__(guilds, defaults, clock)
        self._ceilings = dict(ceilings)
        self._accounts = accounts or SharedAccountsOnly()

    async def ceilings(self, guild_id: int | None) -> Ceilings:
        """The ceilings over ``guild_id``: none when it runs on an account of its own."""
        if guild_id is not None and await self._accounts.own_account(guild_id):
            return {}
        return self._ceilings

    async def get(self, guild_id: int | None) -> GuildSettings:
        return clamp(await super().get(guild_id), await self.ceilings(guild_id))

    async def update(self, viewer: Viewer, changes: Mapping[str, object]) -> GuildSettings:
        """As ``GuildSettingsStore.update``; a value above its ceiling refuses every change."""
        viewer.require_manager()
        given = {name: value for name, value in changes.items() if value is not None}
        ceilings = await self.ceilings(viewer.guild_id)
        try:
            typed = validate_changes(given)
        except UserFacingError:
            # Outside the plain range and above a ceiling too: the ceiling, the lower bound.
            refuse_above(ceilings, given)
            raise
        refuse_above(ceilings, typed.model_dump(exclude_none=True))
        return await super().update(viewer, changes)
