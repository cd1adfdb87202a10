"""The "Animate this voice message" context menu: a member's own voice message, with a
portrait they upload or, once they confirm it, their avatar."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.jobs.models import InputRef
from bot.messages import MessageKey, UserMessage, render
from bot.wiring import EmoBot, report_interaction_error
from cogs.emo.actions import JobActions
from cogs.shared.locale import interaction_locale

log = logging.getLogger(__name__)

MENU_NAME = "Animate this voice message"
CHOICE_SECONDS = 300.0  # how long the avatar confirmation stays usable

Start = Callable[[discord.Interaction[EmoBot], discord.Attachment | None], Awaitable[None]]


class PortraitModal(discord.ui.Modal):
    """Asks for a portrait; an empty answer leads to the avatar confirmation."""

    def __init__(self, locale: str, start: Start) -> None:
        super().__init__(
            title=render(UserMessage(key=MessageKey.PORTRAIT_MODAL_TITLE), locale)[:45],
            timeout=CHOICE_SECONDS,
        )
        self._start = start
        self.portrait: discord.ui.FileUpload[PortraitModal] = discord.ui.FileUpload(
            custom_id="emo-portrait", required=False, max_values=1
        )
        self.add_item(
            discord.ui.Label(
                text=render(UserMessage(key=MessageKey.PORTRAIT_LABEL), locale)[:45],
                description=render(UserMessage(key=MessageKey.PORTRAIT_HINT), locale)[:100],
                component=self.portrait,
            )
        )

    async def on_submit(self, interaction: discord.Interaction[EmoBot]) -> None:  # type: ignore[override]
        uploaded = self.portrait.values
        await self._start(interaction, uploaded[0] if uploaded else None)

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[EmoBot], error: Exception
    ) -> None:
        await report_interaction_error(interaction, error)


class AvatarConfirmation(discord.ui.View):
    """One button: the member agrees to animate their own avatar."""

    def __init__(self, locale: str, owner_id: int, start: Start) -> None:
        super().__init__(timeout=CHOICE_SECONDS)
        self._owner_id = owner_id
        self._start = start
        button: discord.ui.Button[AvatarConfirmation] = discord.ui.Button(
            label=render(UserMessage(key=MessageKey.BUTTON_USE_AVATAR), locale),
            style=discord.ButtonStyle.primary,
        )
        button.callback = self._use_avatar  # type: ignore[method-assign,assignment]
        self.add_item(button)

    async def _use_avatar(self, interaction: discord.Interaction[EmoBot]) -> None:
        if interaction.user.id != self._owner_id:
            return
        self.stop()
        await self._start(interaction, None)

    async def on_error(  # type: ignore[override]
        self,
        interaction: discord.Interaction[EmoBot],
        error: Exception,
        item: discord.ui.Item[AvatarConfirmation],
    ) -> None:
        await report_interaction_error(interaction, error)


class VoiceMessageCog(commands.Cog):
    """Registers the message context menu (menus cannot live inside a cog class body)."""

    def __init__(self, bot: EmoBot, actions: JobActions) -> None:
        self.bot = bot
        self.actions = actions
        self.menu = app_commands.ContextMenu(name=MENU_NAME, callback=self.animate_voice_message)
        self.menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def animate_voice_message(
        self, interaction: discord.Interaction[EmoBot], message: discord.Message
    ) -> None:
        locale = interaction_locale(interaction)
        voice = message.attachments[0] if len(message.attachments) == 1 else None
        if voice is None or not message.flags.voice or not voice.is_voice_message():
            text = render(UserMessage(key=MessageKey.NOT_A_VOICE_MESSAGE), locale)
            await interaction.response.send_message(text, ephemeral=True)
            return
        if message.author.id != interaction.user.id:
            text = render(UserMessage(key=MessageKey.VOICE_NOT_YOURS), locale)
            await interaction.response.send_message(text, ephemeral=True)
            return

        async def start(
            answered: discord.Interaction[EmoBot], portrait: discord.Attachment | None
        ) -> None:
            await self._start(answered, voice, portrait, from_modal=True)

        await interaction.response.send_modal(PortraitModal(locale, start))

    async def _start(
        self,
        interaction: discord.Interaction[EmoBot],
        voice: discord.Attachment,
        portrait: discord.Attachment | None,
        *,
        from_modal: bool,
    ) -> None:
        locale = interaction_locale(interaction)
        if portrait is None and from_modal:
            # No photo: ask before using the avatar, it is the member's face too.
            text = render(UserMessage(key=MessageKey.USE_AVATAR_CONFIRM), locale)
            view = AvatarConfirmation(locale, interaction.user.id, self._start_with_avatar(voice))
            await interaction.response.send_message(text, view=view, ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        if portrait is not None:
            image = InputRef(url=portrait.url, declared_size=portrait.size)
        else:
            avatar = interaction.user.display_avatar.with_format("png").with_size(1024)
            image = InputRef(url=avatar.url, declared_size=0)
        audio = InputRef(url=voice.url, declared_size=voice.size)
        try:
            request = await self.actions.build_request(interaction, image=image, audio=audio)
            await self.actions.start(interaction, request)
        except Exception as error:
            await report_interaction_error(interaction, error)

    def _start_with_avatar(self, voice: discord.Attachment) -> Start:
        async def start(
            interaction: discord.Interaction[EmoBot], portrait: discord.Attachment | None
        ) -> None:
            await self._start(interaction, voice, portrait, from_modal=False)

        return start
