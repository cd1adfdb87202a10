"""Who runs a command, as the core's permission rules need it."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.guilds.access import Viewer


def viewer_of(interaction: discord.Interaction) -> Viewer:
    """The invoker and whether Discord says they have Manage Server in this channel.

    ``interaction.permissions`` is what Discord computed for this member here (roles,
    overwrites, owner, Administrator), so it cannot be forged by the client.
    """
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return Viewer(
        guild_id=interaction.guild_id,
        user_id=interaction.user.id,
        manages_server=interaction.permissions.manage_guild,
    )
