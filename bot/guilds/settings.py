"""Per-server settings: what a server's admins set, over the bot-wide defaults.

Stored one row per (server, setting) as JSON, validated by ``GuildOverrides`` on the way in
and on the way out, and every change is kept in ``guild_settings_changes`` (who, when, old,
new) for the audit.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.clock import Clock, system_clock
from bot.errors import UserFacingError
from bot.guilds.access import Viewer
from bot.guilds.repository import GuildRepository, StoredChange
from bot.jobs.models import Framing, Style
from bot.messages import MessageKey, Param
from bot.settings import Settings

log = logging.getLogger(__name__)


class SettingName(enum.StrEnum):
    """A per-server setting; the value is its field name in both models below."""

    OUTPUT_CHANNEL = "output_channel_id"
    QUEUE_CAP = "queue_cap"
    ACTIVE_PER_MEMBER = "active_per_member"
    SECONDS_PER_DAY = "seconds_per_day"
    MONTHLY_BUDGET = "monthly_budget_usd"
    DEFAULT_STYLE = "default_style"
    DEFAULT_FRAMING = "default_framing"
    DM_DELIVERY = "dm_delivery"
    ALERT_CHANNEL = "alert_channel_id"
    CONFIRM_BEFORE_SPENDING = "confirm_before_spending"

    @property
    def option(self) -> str:
        """The name admins type in ``/emo-admin set`` (channels without ``_id``)."""
        return self.value.removesuffix("_id")


# Inclusive bounds of the numeric settings. The highs only catch typos: a day has 86,400 s.
RANGES: dict[SettingName, tuple[int, int]] = {
    SettingName.QUEUE_CAP: (1, 1000),
    SettingName.ACTIVE_PER_MEMBER: (1, 50),
    SettingName.SECONDS_PER_DAY: (0, 86_400),
    SettingName.MONTHLY_BUDGET: (0, 1_000_000),
}


def _bounded(name: SettingName) -> Any:
    low, high = RANGES[name]
    return Field(default=None, ge=low, le=high)


class GuildOverrides(BaseModel):
    """What a server set for itself; None: the bot-wide default applies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    output_channel_id: int | None = Field(default=None, gt=0)
    queue_cap: int | None = _bounded(SettingName.QUEUE_CAP)
    active_per_member: int | None = _bounded(SettingName.ACTIVE_PER_MEMBER)
    seconds_per_day: int | None = _bounded(SettingName.SECONDS_PER_DAY)
    monthly_budget_usd: float | None = _bounded(SettingName.MONTHLY_BUDGET)
    default_style: Style | None = None
    default_framing: Framing | None = None
    dm_delivery: bool | None = None
    alert_channel_id: int | None = Field(default=None, gt=0)
    confirm_before_spending: bool | None = None


class GuildSettings(BaseModel):
    """A server's effective settings: its own values over the bot-wide defaults."""

    model_config = ConfigDict(frozen=True)

    output_channel_id: int | None = None  # None: results go where the command was used
    queue_cap: int  # jobs the server may have waiting
    active_per_member: int  # jobs a member may have on the way
    seconds_per_day: int | None  # video seconds per member per UTC day; None: no limit
    monthly_budget_usd: float | None  # per UTC calendar month; None: no budget
    default_style: Style = Style.NORMAL
    default_framing: Framing = Framing.HEAD
    dm_delivery: bool = True  # members may ask for their result by direct message
    alert_channel_id: int | None = None  # None: the bot-wide EMO_ALERT_CHANNEL_ID (or the log)
    # Every job waits for a Confirm (its crop and estimate on the card) before anything is spent.
    confirm_before_spending: bool = False
    overridden: frozenset[SettingName] = frozenset()  # which values the server set itself
    # The operator's ceilings over this server's values (none on an account of its own), and
    # the server's own values above them, lowered to the ceiling (bot/guilds/ceilings.py).
    ceilings: dict[SettingName, int | float] = Field(default_factory=dict)
    clamped: dict[SettingName, int | float] = Field(default_factory=dict)


def bot_defaults(settings: Settings) -> GuildSettings:
    """The settings of a server that changed nothing."""
    return GuildSettings(
        queue_cap=settings.emo_max_queued_per_server,
        active_per_member=settings.emo_max_active_per_member,
        seconds_per_day=settings.emo_member_seconds_per_day,
        monthly_budget_usd=settings.emo_monthly_budget_usd,
        alert_channel_id=settings.emo_alert_channel_id,
    )


class SettingChange(BaseModel):
    """One line of a server's settings history (``new_value`` None: reset to the default)."""

    model_config = ConfigDict(frozen=True)

    guild_id: int
    name: SettingName
    old_value: str | None
    new_value: str | None
    changed_by: int
    changed_at: datetime


def _refusal(error: ValidationError, given: Mapping[str, object]) -> UserFacingError:
    """The first problem of ``given``, in the admin's words."""
    first = error.errors()[0]
    field = str(first["loc"][0]) if first.get("loc") else ""
    try:
        name = SettingName(field)
    except ValueError:
        return UserFacingError(MessageKey.SETTING_UNKNOWN, setting=field)
    value: Param = str(given.get(field))
    if name in RANGES:
        low, high = RANGES[name]
        return UserFacingError(
            MessageKey.SETTING_OUT_OF_RANGE,
            setting=name.option,
            minimum=low,
            maximum=high,
            value=value,
        )
    return UserFacingError(MessageKey.SETTING_INVALID, setting=name.option, value=value)


def validate_changes(changes: Mapping[str, object]) -> GuildOverrides:
    """``changes`` as typed values; raises UserFacingError naming the first bad one."""
    if not changes:
        raise UserFacingError(MessageKey.SETTINGS_NOTHING_GIVEN)
    try:
        return GuildOverrides.model_validate(dict(changes))
    except ValidationError as error:
        raise _refusal(error, changes) from None


def effective(defaults: GuildSettings, overrides: GuildOverrides) -> GuildSettings:
    """``overrides`` laid over ``defaults``."""
    own = overrides.model_dump(exclude_none=True)
    return defaults.model_copy(
        update={**own, "overridden": frozenset(SettingName(name) for name in own)}
    )


def _setting_change(stored: StoredChange) -> SettingChange:
    return SettingChange(
        guild_id=stored.guild_id,
        name=SettingName(stored.name),
        old_value=stored.old_value,
        new_value=stored.new_value,
        changed_by=stored.changed_by,
        changed_at=stored.changed_at,
    )


class GuildSettingsStore:
    """Reads and changes per-server settings. ``get`` is what the rest of the bot calls."""

    def __init__(
        self, guilds: GuildRepository, defaults: GuildSettings, clock: Clock = system_clock
    ) -> None:
        self._guilds = guilds
        self._defaults = defaults
        self._clock = clock

    @property
    def defaults(self) -> GuildSettings:
        return self._defaults

    async def get(self, guild_id: int | None) -> GuildSettings:
        """The effective settings of ``guild_id`` (the defaults outside a server)."""
        if guild_id is None:
            return self._defaults
        return effective(self._defaults, await self.overrides(guild_id))

    async def overrides(self, guild_id: int) -> GuildOverrides:
        """What the server set itself. A stored value that no longer validates (a bound
        changed) is skipped with a warning rather than breaking every command."""
        values: dict[str, object] = {}
        for name, raw in (await self._guilds.overrides(guild_id)).items():
            try:
                value = json.loads(raw)
                GuildOverrides.model_validate({name: value})
            except ValueError:  # bad JSON, or a ValidationError
                log.warning(
                    "guild %d: stored setting %s is invalid; using the default", guild_id, name
                )
                continue
            values[name] = value
        return GuildOverrides.model_validate(values)

    async def update(self, viewer: Viewer, changes: Mapping[str, object]) -> GuildSettings:
        """Set the given settings (all or none); only a server manager may."""
        viewer.require_manager()
        given = {name: value for name, value in changes.items() if value is not None}
        typed = validate_changes(given)
        encoded = typed.model_dump(mode="json", include=set(given))
        await self._write(viewer, {SettingName(k): json.dumps(v) for k, v in encoded.items()})
        return await self.get(viewer.guild_id)

    async def reset(self, viewer: Viewer, names: Collection[SettingName]) -> GuildSettings:
        """Give the named settings back to the bot-wide defaults; only a server manager may."""
        viewer.require_manager()
        await self._write(viewer, dict.fromkeys(names))
        return await self.get(viewer.guild_id)

    async def _write(self, viewer: Viewer, values: Mapping[SettingName, str | None]) -> None:
        written = await self._guilds.write(
            viewer.guild_id,
            {name.value: value for name, value in values.items()},
            by=viewer.user_id,
            at=self._clock(),
        )
        for change in written:
            log.info(
                "guild %d setting %s: %s -> %s by user %d",
                viewer.guild_id,
                change.name,
                change.old_value if change.old_value is not None else "default",
                change.new_value if change.new_value is not None else "default",
                viewer.user_id,
            )

    async def history(self, viewer: Viewer, limit: int = 20) -> list[SettingChange]:
        """The server's latest setting changes, newest first; only a server manager may."""
        viewer.require_manager()
        return [_setting_change(row) for row in await self._guilds.history(viewer.guild_id, limit)]
