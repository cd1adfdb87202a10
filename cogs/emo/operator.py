"""``/emo-operator``: what only the bot's owner may do (the provider account is theirs)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.messages import MessageKey, UserMessage, render
from bot.wiring import EmoBot
from cogs.shared.locale import interaction_locale


@app_commands.default_permissions(administrator=True)
class OperatorCog(commands.GroupCog, group_name="emo-operator", group_description="Bot owner"):
    """Commands for the bot's owner."""

    def __init__(self, bot: EmoBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(
        name="resume-provider", description="Resume submissions after fixing the provider account"
    )
    async def resume_provider(self, interaction: discord.Interaction[EmoBot]) -> None:
        locale = interaction_locale(interaction)
        # Hidden from non-admins by default, but a server's admins are not the bot's owner.
        if not await self.bot.is_owner(interaction.user):
            text = render(UserMessage(key=MessageKey.OWNER_ONLY), locale)
            await interaction.response.send_message(text, ephemeral=True)
            return
        resumed = await self.bot.core.service.resume_provider(f"resumed by {interaction.user.id}")
        key = MessageKey.PROVIDER_RESUMED if resumed else MessageKey.PROVIDER_NOT_PAUSED
        await interaction.response.send_message(
            render(UserMessage(key=key), locale), ephemeral=True
        )
