"""The language an interaction is answered in, and the permission it carries."""

from __future__ import annotations

from typing import Any

import discord

from bot.messages import choose_locale


def interaction_locale(interaction: discord.Interaction[Any]) -> str:
    """The member's language if the bot speaks it, else the server's, else English."""
    guild_locale = str(interaction.guild_locale) if interaction.guild_locale else None
    return choose_locale(str(interaction.locale), guild_locale)


def manages_server(interaction: discord.Interaction[Any]) -> bool:
    """Discord's Manage Server permission for this member here, as the interaction says."""
    return interaction.permissions.manage_guild
