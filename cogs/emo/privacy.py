"""``/emo usage`` and ``/emo forget``: what a member used, and deleting what the bot keeps.

A mixin, not a cog: ``EmoCog`` inherits it so the commands join the ``/emo`` group
(discord.py collects app commands over the class's MRO).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.wiring import EmoBot, answer_privately
from cogs.shared import reports as render
from cogs.shared.access import viewer_of
from cogs.shared.locale import interaction_locale

if TYPE_CHECKING:
    # For the type checker only: app commands must be defined on a cog (or group), and
    # this mixin's methods are, once EmoCog inherits them.
    from discord.ext.commands import Cog as _CogMixin
else:
    _CogMixin = object


class PrivacyCommands(_CogMixin):
    """Members' own records; a member with Manage Server also sees the server's."""

    bot: EmoBot

    @app_commands.command(
        name="usage", description="Your videos and their cost (Manage Server: everyone's)"
    )
    @app_commands.describe(member="Whose use to show (another member's needs Manage Server)")
    async def usage(
        self, interaction: discord.Interaction, member: discord.User | None = None
    ) -> None:
        viewer = viewer_of(interaction)
        reports = self.bot.core.guilds.usage
        locale = interaction_locale(interaction)
        if member is None and viewer.manages_server:
            text = render.server_usage(await reports.server(viewer), locale)
        else:
            report = await reports.member(viewer, member.id if member else None)
            text = render.member_usage(report, locale)
        await answer_privately(interaction, text)

    @app_commands.command(
        name="forget",
        description="Delete the photos, recordings and videos the bot keeps of you",
    )
    async def forget(self, interaction: discord.Interaction) -> None:
        viewer = viewer_of(interaction)
        # Deleting files may take a moment: acknowledge within Discord's 3 s first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        erased = await self.bot.core.guilds.retention.forget_member(viewer.user_id)
        # The crops on the cards of the jobs whose files went: taken off now.
        await self.bot.core.card_keeper.sweep()
        await answer_privately(
            interaction, render.forgotten(erased, interaction_locale(interaction))
        )
