"""``/emo animate``: parse the interaction, call the service, render the answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.jobs.models import AnimateRequest, Framing, InputRef, Style
from bot.messages import MessageKey, UserMessage, render
from bot.wiring import EmoBot
from cogs.emo.delivery import DiscordNotifier

log = logging.getLogger(__name__)


@app_commands.guild_only()
class EmoCog(commands.GroupCog, group_name="emo", group_description="Talking portraits"):
    """Talking-portrait commands."""

    def __init__(self, bot: EmoBot) -> None:
        self.bot = bot
        self.service = bot.core.service
        self.notifier = DiscordNotifier(bot)
        self.service.attach_notifier(self.notifier)
        self._requests: set[asyncio.Task[object]] = set()
        super().__init__()

    async def cog_unload(self) -> None:
        """Shutting down: requests still being checked are told to try again (their rows are
        resumed on the next start), while Discord and the database are still reachable."""
        pending = [task for task in self._requests if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=3.0)

    @app_commands.command(
        name="animate", description="Turn a portrait and a voice recording into a talking video"
    )
    @app_commands.describe(
        image="A photo of one person, face clearly visible",
        audio="A voice message or audio file of up to 60 seconds",
        style="How lively the motion is",
        framing="Head shot (square) or half body (portrait)",
        trim="Use the first 60 seconds of a longer recording instead of refusing it",
    )
    @app_commands.choices(
        style=[
            app_commands.Choice(name="normal", value=Style.NORMAL.value),
            app_commands.Choice(name="calm", value=Style.CALM.value),
            app_commands.Choice(name="active", value=Style.ACTIVE.value),
        ],
        framing=[
            app_commands.Choice(name="head 1:1", value=Framing.HEAD.value),
            app_commands.Choice(name="half body 3:4", value=Framing.HALF_BODY.value),
        ],
    )
    async def animate(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        audio: discord.Attachment,
        style: app_commands.Choice[str] | None = None,
        framing: app_commands.Choice[str] | None = None,
        trim: bool = False,
    ) -> None:
        # Acknowledge first: everything after may take longer than Discord's 3 s.
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.channel_id is not None
        locale = str(interaction.locale)
        request = AnimateRequest(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            user_id=interaction.user.id,
            locale=locale,
            image=InputRef(url=image.url, declared_size=image.size),
            audio=InputRef(url=audio.url, declared_size=audio.size),
            style=Style(style.value) if style else Style.NORMAL,
            framing=Framing(framing.value) if framing else Framing.HEAD,
            trim=trim,
            upload_limit_bytes=interaction.filesize_limit,
        )
        await interaction.edit_original_response(
            content=render(UserMessage(key=MessageKey.CHECKING), locale)
        )
        # A refusal raises UserFacingError, which the tree's error handler shows privately.
        this = asyncio.current_task()
        if this is not None:
            self._requests.add(this)
        try:
            accepted = await self.service.request(request)
        except asyncio.CancelledError:
            # Shutting down mid-request: say so rather than leave "thinking…" spinning. The
            # row (if written) is resumed on the next start.
            restarting = render(UserMessage(key=MessageKey.RESTARTING), locale)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(interaction.edit_original_response(content=restarting), 2.0)
            raise
        finally:
            if this is not None:
                self._requests.discard(this)
        self.notifier.track(accepted.job.id, interaction)
        queued = UserMessage(
            key=MessageKey.PROVIDER_PAUSED if accepted.paused else MessageKey.QUEUED,
            params={"job": accepted.job.id, "ahead": accepted.ahead},
        )
        await self.notifier.edit_progress(accepted.job.id, render(queued, locale))
