"""The status card on Discord: the bot's own channel message per job (the core's card keeper
decides what it says and when; this only posts and edits it, with the crop of what will be
animated uploaded onto it once: later edits leave the attachment as it is)."""

from __future__ import annotations

from typing import Any

import discord

from bot.cards.lines import CardView
from bot.cards.surface import CardForbiddenError, CardGoneError
from bot.jobs.models import Job
from bot.wiring import EmoBot
from cogs.emo.buttons import JobButtons
from cogs.shared.markup import say

PREVIEW_FILENAME = "crop.jpg"


class DiscordCards:
    """The CardSurface: cards mention nobody (results and notices do)."""

    def __init__(self, bot: EmoBot, buttons: JobButtons) -> None:
        self._bot = bot
        self._buttons = buttons

    def _content(self, job: Job, view: CardView) -> tuple[str, discord.ui.View]:
        text = "\n".join(say(line, job.locale) for line in view.lines)
        buttons = self._buttons.view(
            job.id,
            job.locale,
            cancel=view.cancel,
            retry=view.retry,
            confirm=view.confirm,
            reframe=view.reframe,
        )
        return text, buttons

    @staticmethod
    def _preview(view: CardView) -> discord.File | None:
        if view.preview is None:
            return None
        return discord.File(view.preview, filename=PREVIEW_FILENAME)

    async def post(self, job: Job, view: CardView) -> int:
        text, buttons = self._content(job, view)
        channel = self._bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        preview = self._preview(view)
        extra: dict[str, Any] = {} if preview is None else {"file": preview}
        try:
            message = await channel.send(
                text,
                view=buttons,
                nonce=f"emo-card-{job.id}",
                allowed_mentions=discord.AllowedMentions.none(),
                **extra,
            )
        except discord.NotFound as error:
            raise CardGoneError(str(error.code)) from None
        except discord.Forbidden as error:
            raise CardForbiddenError(str(error.code)) from None
        return message.id

    async def edit(self, job: Job, message_id: int, view: CardView) -> None:
        text, buttons = self._content(job, view)
        channel = self._bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        preview = self._preview(view)
        # Without ``attachments`` an edit keeps the card's attachment: uploaded once.
        extra: dict[str, Any] = {} if preview is None else {"attachments": [preview]}
        if view.drop_preview:
            extra = {"attachments": []}
        try:
            await channel.get_partial_message(message_id).edit(
                content=text,
                view=buttons,
                allowed_mentions=discord.AllowedMentions.none(),
                **extra,
            )
        except discord.NotFound as error:
            raise CardGoneError(str(error.code)) from None
        except discord.Forbidden as error:
            raise CardForbiddenError(str(error.code)) from None
