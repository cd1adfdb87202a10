"""The status card on Discord: the bot's own channel message per job (the core's card keeper
decides what it says and when; this only posts and edits it)."""

from __future__ import annotations

import discord

from bot.cards.lines import CardView
from bot.cards.surface import CardForbiddenError, CardGoneError
from bot.jobs.models import Job
from bot.wiring import EmoBot
from cogs.emo.buttons import JobButtons
from cogs.shared.markup import say


class DiscordCards:
    """The CardSurface: cards mention nobody (results and notices do)."""

    def __init__(self, bot: EmoBot, buttons: JobButtons) -> None:
        self._bot = bot
        self._buttons = buttons

    def _content(self, job: Job, view: CardView) -> tuple[str, discord.ui.View]:
        text = "\n".join(say(line, job.locale) for line in view.lines)
        buttons = self._buttons.view(job.id, job.locale, cancel=view.cancel, retry=view.retry)
        return text, buttons

    async def post(self, job: Job, view: CardView) -> int:
        text, buttons = self._content(job, view)
        channel = self._bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        try:
            message = await channel.send(
                text,
                view=buttons,
                nonce=f"emo-card-{job.id}",
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.NotFound as error:
            raise CardGoneError(str(error.code)) from None
        except discord.Forbidden as error:
            raise CardForbiddenError(str(error.code)) from None
        return message.id

    async def edit(self, job: Job, message_id: int, view: CardView) -> None:
        text, buttons = self._content(job, view)
        channel = self._bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        try:
            await channel.get_partial_message(message_id).edit(
                content=text, view=buttons, allowed_mentions=discord.AllowedMentions.none()
            )
        except discord.NotFound as error:
            raise CardGoneError(str(error.code)) from None
        except discord.Forbidden as error:
            raise CardForbiddenError(str(error.code)) from None
