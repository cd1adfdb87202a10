"""``/emo-admin``: show and change this server's settings, list its jobs, see its changes.

Hidden by default from members without Manage Server (``default_permissions``), but a
server can re-grant commands to anyone, so every command checks the permission itself.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.guilds.audit import parse_query
from bot.guilds.settings import SettingName
from bot.jobs.models import Framing, Style
from bot.jobs.states import JobState
from bot.messages import MessageKey
from bot.wiring import EmoBot, answer_privately
from cogs.shared import reports as render
from cogs.shared.access import viewer_of
from cogs.shared.locale import interaction_locale

log = logging.getLogger(__name__)

_ALL = "all"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class AdminCog(
    commands.GroupCog,
    group_name="emo-admin",
    group_description="This server's video settings, costs and audit (Manage Server)",
):
    """Server administration; the rules live in bot/guilds, this only translates."""

    def __init__(self, bot: EmoBot) -> None:
        self.bot = bot
        self.guilds = bot.core.guilds
        super().__init__()

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        erased = await self.guilds.retention.forget_guild(guild.id)
        log.info(
            "removed from guild %d: media of %d jobs deleted, %d still on their way",
            guild.id,
            erased.jobs,
            erased.unfinished,
        )

    @app_commands.command(name="settings", description="Show this server's settings")
    async def show_settings(self, interaction: discord.Interaction) -> None:
        viewer = viewer_of(interaction)
        viewer.require_manager()
        settings = await self.guilds.settings.get(viewer.guild_id)
        await answer_privately(
            interaction, render.settings_view(settings, interaction_locale(interaction))
        )

    @app_commands.command(name="set", description="Change this server's settings")
    @app_commands.describe(
        output_channel="Where finished videos are posted (default: where the command was used)",
        queue_cap="How many videos this server may have waiting",
        active_per_member="How many videos one member may have on their way",
        seconds_per_day="Seconds of video one member may make per day (UTC)",
        monthly_budget_usd="What this server may spend per calendar month (UTC), in USD",
        default_style="Motion style when a member does not choose one",
        default_framing="Framing when a member does not choose one",
        dm_delivery="Whether members may have their videos sent by direct message",
        alert_channel="Where operator alerts about this server's jobs go",
        confirm_before_spending=(
            "Whether members must confirm each video (crop and cost shown) before it is made"
        ),
    )
    @app_commands.choices(
        default_style=[app_commands.Choice(name=s.value, value=s.value) for s in Style],
        default_framing=[
            app_commands.Choice(name="head 1:1", value=Framing.HEAD.value),
            app_commands.Choice(name="half body 3:4", value=Framing.HALF_BODY.value),
        ],
    )
    async def set_settings(
        self,
        interaction: discord.Interaction,
        output_channel: discord.TextChannel | None = None,
        queue_cap: int | None = None,
        active_per_member: int | None = None,
        seconds_per_day: int | None = None,
        monthly_budget_usd: float | None = None,
        default_style: app_commands.Choice[str] | None = None,
        default_framing: app_commands.Choice[str] | None = None,
        dm_delivery: bool | None = None,
        alert_channel: discord.TextChannel | None = None,
        confirm_before_spending: bool | None = None,
    ) -> None:
        viewer = viewer_of(interaction)
        viewer.require_manager()
        # Ranges are checked by the core, which words the refusal (Discord's client
        # would only grey out the field).
        changes: dict[str, object] = {
            SettingName.OUTPUT_CHANNEL: output_channel.id if output_channel else None,
            SettingName.QUEUE_CAP: queue_cap,
            SettingName.ACTIVE_PER_MEMBER: active_per_member,
            SettingName.SECONDS_PER_DAY: seconds_per_day,
            SettingName.MONTHLY_BUDGET: monthly_budget_usd,
            SettingName.DEFAULT_STYLE: default_style.value if default_style else None,
            SettingName.DEFAULT_FRAMING: default_framing.value if default_framing else None,
            SettingName.DM_DELIVERY: dm_delivery,
            SettingName.ALERT_CHANNEL: alert_channel.id if alert_channel else None,
            SettingName.CONFIRM_BEFORE_SPENDING: confirm_before_spending,
        }
        settings = await self.guilds.settings.update(viewer, changes)
        locale = interaction_locale(interaction)
        changed = [SettingName(name) for name, value in changes.items() if value is not None]
        saved = render.text(MessageKey.SETTINGS_SAVED, locale, names=render.names(changed))
        await answer_privately(interaction, f"{saved}\n\n{render.settings_view(settings, locale)}")

    @app_commands.command(name="reset", description="Give a setting back to the bot's default")
    @app_commands.describe(setting="The setting to reset, or all of them")
    @app_commands.choices(
        setting=[
            *(app_commands.Choice(name=name.option, value=name.value) for name in SettingName),
            app_commands.Choice(name=_ALL, value=_ALL),
        ]
    )
    async def reset(
        self, interaction: discord.Interaction, setting: app_commands.Choice[str]
    ) -> None:
        viewer = viewer_of(interaction)
        viewer.require_manager()
        chosen = list(SettingName) if setting.value == _ALL else [SettingName(setting.value)]
        settings = await self.guilds.settings.reset(viewer, chosen)
        locale = interaction_locale(interaction)
        done = render.text(MessageKey.SETTINGS_RESET, locale, names=render.names(chosen))
        await answer_privately(interaction, f"{done}\n\n{render.settings_view(settings, locale)}")

    @app_commands.command(name="history", description="Who changed this server's settings")
    async def history(self, interaction: discord.Interaction) -> None:
        viewer = viewer_of(interaction)
        viewer.require_manager()
        changes = await self.guilds.settings.history(viewer)
        await answer_privately(
            interaction, render.history(changes, interaction_locale(interaction))
        )

    @app_commands.command(name="jobs", description="List this server's jobs: who, where, when")
    @app_commands.describe(
        member="Only this member's jobs",
        state="Only jobs in this state",
        since="First day, as YYYY-MM-DD (UTC)",
        until="Last day, as YYYY-MM-DD (UTC)",
        page="Which page (newest jobs first)",
    )
    @app_commands.choices(
        state=[app_commands.Choice(name=state.value, value=state.value) for state in JobState]
    )
    async def jobs(
        self,
        interaction: discord.Interaction,
        member: discord.User | None = None,
        state: app_commands.Choice[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        page: int = 1,
    ) -> None:
        viewer = viewer_of(interaction)
        viewer.require_manager()
        query = parse_query(
            user_id=member.id if member else None,
            state=state.value if state else None,
            since=since,
            until=until,
            page=page,
        )
        found = await self.guilds.audit.page(viewer, query)
        await answer_privately(
            interaction, render.audit_page(found, interaction_locale(interaction))
        )
