"""Posting results on Discord (the core's ResultChannel): the bot's own message, a reply to
the card that mentions the member, so it arrives however late the render finished.

The core fits the video to ``upload_limit``; where the bot may not post, the command's reply
while its token lives, else a direct message.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import discord

from bot.cards.repository import CardRepository
from bot.jobs.edge import DeliveryError, ResultPost, UploadTooLargeError
from bot.jobs.models import Job
from bot.messages import MessageKey, Param, UserMessage
from bot.wiring import EmoBot
from cogs.emo.buttons import JobButtons
from cogs.emo.interactions import LiveInteractions
from cogs.shared.markup import say

log = logging.getLogger(__name__)

REQUEST_ENTITY_TOO_LARGE = 40005
CANNOT_MESSAGE_USER = 50007
DM_UPLOAD_LIMIT = 10 * 1024 * 1024  # no server boost applies to direct messages
RETRY_EMOJI = "🔁"


async def reply_to_card(cards: CardRepository, job: Job) -> dict[str, Any]:
    """``reference=`` for a reply to the job's card, when it has one."""
    record = await cards.get(job.id)
    if record is None or not record.message_id:
        return {}
    reference = discord.MessageReference(
        message_id=record.message_id,
        channel_id=job.channel_id,
        guild_id=job.guild_id,
        fail_if_not_exists=False,
    )
    return {"reference": reference}


class DiscordResults:
    """The ResultChannel on Discord."""

    def __init__(
        self,
        bot: EmoBot,
        buttons: JobButtons,
        cards: CardRepository,
        interactions: LiveInteractions,
    ) -> None:
        self._bot = bot
        self._buttons = buttons
        self._cards = cards
        self._interactions = interactions

    def _channel(self, job: Job) -> discord.PartialMessageable:
        return self._bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)

    def _retry(self, job: Job) -> discord.ui.View:
        return self._buttons.view(job.id, job.locale, retry=True)

    async def upload_limit(self, job: Job) -> int:
        """The tighter of the limit Discord gave with the command and the server's current one."""
        guild = self._bot.get_guild(job.guild_id) if job.guild_id else None
        limit = job.upload_limit_bytes
        if guild is not None:
            limit = min(guild.filesize_limit, limit)
        return min(limit, DM_UPLOAD_LIMIT) if job.deliver_dm else limit

    async def post(self, job: Job, result: ResultPost) -> int:
        message, video = result.message, result.video
        if job.deliver_dm:
            try:
                return await self._send_dm(job, message, video)
            except discord.Forbidden as error:
                if error.code != CANNOT_MESSAGE_USER:
                    raise DeliveryError(f"forbidden ({error.code})", permanent=True) from None
                log.info("job %d: the member's DMs are closed, posting in the channel", job.id)
                message = UserMessage(key=MessageKey.RESULT_DMS_CLOSED, params=message.params)
        try:
            return await self._send(job, say(message, job.locale), video)
        except DeliveryError as error:
            if not error.permanent or isinstance(error, UploadTooLargeError):
                raise
            return await self._fallback(job, message, video, error)

    async def _fallback(
        self, job: Job, message: UserMessage, video: Path | None, error: DeliveryError
    ) -> int:
        """The bot may not post in the channel: the command's reply while its token lives,
        else a direct message."""
        log.warning("job %d: cannot post in channel %d (%s)", job.id, job.channel_id, error)
        notice = UserMessage(
            key=MessageKey.RESULT_CHANNEL_FORBIDDEN,
            params={**message.params, "channel": job.channel_id},
        )
        sent = await self._send_interaction(job, notice, video)
        if sent is not None:
            return sent
        try:
            return await self._send_dm(job, notice, video)
        except discord.HTTPException as dm_error:
            log.warning("job %d: the DM fallback failed too (%s)", job.id, dm_error.code)
            raise error from None

    def _file(self, job: Job, video: Path | None) -> discord.File | None:
        return None if video is None else discord.File(video, filename=f"emo-{job.id}.mp4")

    async def _send(self, job: Job, text: str, video: Path | None) -> int:
        channel = self._channel(job)
        reply = await reply_to_card(self._cards, job)
        file, view = self._file(job, video), self._retry(job)
        try:
            if file is None:
                message = await channel.send(text, nonce=job.delivery_nonce, view=view, **reply)
            else:
                message = await channel.send(
                    text, file=file, nonce=job.delivery_nonce, view=view, **reply
                )
        except discord.Forbidden as error:
            raise DeliveryError(f"forbidden ({error.code})", permanent=True) from None
        except discord.NotFound as error:
            raise DeliveryError(f"channel gone ({error.code})", permanent=True) from None
        except discord.HTTPException as error:
            if error.code == REQUEST_ENTITY_TOO_LARGE:
                raise UploadTooLargeError from None
            raise DeliveryError(f"HTTP {error.status} ({error.code})", permanent=False) from None
        except (OSError, TimeoutError) as error:
            raise DeliveryError(type(error).__name__, permanent=False) from None
        await self._offer_retry_reaction(message)
        return message.id

    async def _send_dm(self, job: Job, message: UserMessage, video: Path | None) -> int:
        user = self._bot.get_user(job.user_id) or await self._bot.fetch_user(job.user_id)
        guild = self._bot.get_guild(job.guild_id) if job.guild_id else None
        params: dict[str, Param] = {**message.params, "server": guild.name if guild else "?"}
        key = MessageKey.RESULT_BY_DM if message.key is MessageKey.RESULT else message.key
        text = say(UserMessage(key=key, params=params), job.locale)
        file = self._file(job, video)
        if file is None:
            sent = await user.send(text, nonce=job.delivery_nonce, view=self._retry(job))
        else:
            sent = await user.send(text, file=file, nonce=job.delivery_nonce, view=self._retry(job))
        log.info("job %d: delivered by direct message", job.id)
        return sent.id

    async def _send_interaction(
        self, job: Job, message: UserMessage, video: Path | None
    ) -> int | None:
        interaction = self._interactions.live(job.id)
        if interaction is None:
            return None
        file = self._file(job, video)
        text = say(message, job.locale)
        try:
            if file is None:
                sent = await interaction.followup.send(text, ephemeral=True, wait=True)
            else:
                sent = await interaction.followup.send(text, file=file, ephemeral=True, wait=True)
        except discord.HTTPException as error:
            log.info("job %d: the interaction fallback failed (%s)", job.id, error.code)
            return None
        log.info("job %d: delivered through the command's reply", job.id)
        return sent.id

    async def _offer_retry_reaction(self, message: discord.Message) -> None:
        # The 🔁 under the result is the hint that reacting retries; only a hint.
        try:
            await message.add_reaction(RETRY_EMOJI)
        except discord.HTTPException as error:
            log.info("could not add the retry reaction (%s)", error.code)

    async def find_posted(self, job: Job) -> int | None:
        """Look for a result of ``job`` posted before a crash (channel, then DM)."""
        bot_user = self._bot.user
        if bot_user is None:
            return None
        marker = re.compile(rf"#{job.id}\b")
        after = discord.Object(id=discord.utils.time_snowflake(job.created_at))
        card = await self._cards.get(job.id)
        card_id = card.message_id if card else None
        places: list[discord.abc.Messageable] = [self._channel(job)]
        user = self._bot.get_user(job.user_id) if job.deliver_dm else None
        if user is not None:
            places.insert(0, user)
        for place in places:
            try:
                async for message in place.history(limit=200, after=after):
                    ours = message.author.id == bot_user.id and marker.search(message.content)
                    posted = message.attachments or "http" in message.content
                    if ours and posted and message.id != card_id:
                        return message.id
            except discord.HTTPException as error:
                log.warning("job %d: could not read a history (%s)", job.id, error.status)
        return None
