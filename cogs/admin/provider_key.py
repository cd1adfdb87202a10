"""``/emo-admin provider-key set|clear|status``: a server's own DashScope key.

The key is asked in a modal (never a command option, so it is in no command's visible
options), checked and stored by the core (``bot/guilds/provider_keys.py``), and never shown
again. Every answer is private. Like every ``/emo-admin`` command: hidden by default from
members without Manage Server, and each command (and the modal's submit) checks it anyway.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.guilds.provider_keys import KEY_MAX_LENGTH, ProviderKeys
from bot.messages import MessageKey, UserMessage, render
from bot.wiring import EmoBot, answer_privately, report_interaction_error
from cogs.shared.access import viewer_of
from cogs.shared.locale import interaction_locale
from cogs.shared.markup import say

MODAL_SECONDS = 600.0  # how long the form stays usable once opened
MODAL_ID = "emo-provider-key"


def _text(key: MessageKey, locale: str, limit: int) -> str:
    return render(UserMessage(key=key), locale)[:limit]


class ProviderKeyModal(discord.ui.Modal):
    """One short field for the key; its submit checks and stores it."""

    def __init__(self, keys: ProviderKeys, locale: str) -> None:
        super().__init__(
            title=_text(MessageKey.PROVIDER_KEY_MODAL_TITLE, locale, 45),
            timeout=MODAL_SECONDS,
            custom_id=MODAL_ID,
        )
        self._keys = keys
        self.key: discord.ui.TextInput[ProviderKeyModal] = discord.ui.TextInput(
            custom_id=f"{MODAL_ID}-value",
            style=discord.TextStyle.short,
            required=True,
            max_length=KEY_MAX_LENGTH,
        )
        self.add_item(
            discord.ui.Label(
                text=_text(MessageKey.PROVIDER_KEY_LABEL, locale, 45),
                description=_text(MessageKey.PROVIDER_KEY_HINT, locale, 100),
                component=self.key,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[EmoBot]) -> None:  # type: ignore[override]
        viewer = viewer_of(interaction)
        viewer.require_manager()
        # The free call that checks the key may take longer than Discord's 3 seconds.
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = await self._keys.set(viewer.guild_id, viewer.user_id, self.key.value)
        saved = UserMessage(
            key=MessageKey.PROVIDER_KEY_SAVED, params={"account": status.account_id or ""}
        )
        await answer_privately(interaction, say(saved, interaction_locale(interaction)))

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[EmoBot], error: Exception
    ) -> None:
        await report_interaction_error(interaction, error)


class ProviderKeyCommands(app_commands.Group):
    """The ``provider-key`` subgroup of ``/emo-admin``."""

    def __init__(self, keys: ProviderKeys) -> None:
        super().__init__(
            name="provider-key", description="This server's own DashScope key (Manage Server)"
        )
        self._keys = keys

    @app_commands.command(
        name="set", description="Give this server its own DashScope key (asked in a private form)"
    )
    async def set_key(self, interaction: discord.Interaction[EmoBot]) -> None:
        viewer_of(interaction).require_manager()
        locale = interaction_locale(interaction)
        if not self._keys.available:  # refused before the key is typed, not after
            text = render(UserMessage(key=MessageKey.PROVIDER_KEY_NO_SECRET), locale)
            await answer_privately(interaction, text)
            return
        await interaction.response.send_modal(ProviderKeyModal(self._keys, locale))

    @app_commands.command(name="clear", description="Stop using this server's own DashScope key")
    async def clear_key(self, interaction: discord.Interaction[EmoBot]) -> None:
        viewer = viewer_of(interaction)
        viewer.require_manager()
        cleared = await self._keys.clear(viewer.guild_id, viewer.user_id)
        said = (
            MessageKey.PROVIDER_KEY_CLEARED if cleared else MessageKey.PROVIDER_KEY_NOTHING_TO_CLEAR
        )
        await answer_privately(
            interaction, render(UserMessage(key=said), interaction_locale(interaction))
        )

    @app_commands.command(
        name="status", description="Whether this server's videos run on its own DashScope key"
    )
    async def status(self, interaction: discord.Interaction[EmoBot]) -> None:
        viewer = viewer_of(interaction)
        viewer.require_manager()
        status = await self._keys.status(viewer.guild_id)
        locale = interaction_locale(interaction)
        await answer_privately(
            interaction, "\n".join(say(message, locale) for message in status.messages())
        )
