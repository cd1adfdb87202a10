"""Shows progress and posts results on Discord for the core's jobs (the JobNotifier)."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import discord

from bot.jobs.models import Job
from bot.jobs.notifier import DeliveryError
from bot.jobs.states import JobState
from bot.jobs.status import can_retry
from bot.media.video import fit_video
from bot.messages import MessageKey, Param, UserMessage, render
from bot.wiring import EmoBot
from cogs.emo.buttons import RetryButton
from cogs.emo.card import CardKeeper

log = logging.getLogger(__name__)

REQUEST_ENTITY_TOO_LARGE = 40005
CANNOT_MESSAGE_USER = 50007
DM_UPLOAD_LIMIT = 10 * 1024 * 1024  # no server boost applies to direct messages
RETRY_EMOJI = "🔁"


class UploadTooLargeError(DeliveryError):
    """Discord refused the file as larger than the channel's upload limit."""

    def __init__(self) -> None:
        super().__init__("file over the upload limit", permanent=True)


def _reply_to_card(job: Job) -> dict[str, Any]:
    """``reference=`` for a reply to the job's card, when it has one."""
    if not job.card_message_id:
        return {}
    reference = discord.MessageReference(
        message_id=job.card_message_id,
        channel_id=job.channel_id,
        guild_id=job.guild_id,
        fail_if_not_exists=False,
    )
    return {"reference": reference}


def retry_view(job: Job) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    label = render(UserMessage(key=MessageKey.BUTTON_RETRY), job.locale)
    view.add_item(RetryButton(job.id, label))
    return view


class DiscordNotifier:
    """The card shows progress; results and failure notices are the bot's own messages,
    replies to the card that mention the member, so they arrive however late."""

    def __init__(self, bot: EmoBot, cards: CardKeeper) -> None:
        self._bot = bot
        self._cards = cards
        self._interactions: dict[int, discord.Interaction[EmoBot]] = {}

    def track(self, job_id: int, interaction: discord.Interaction[EmoBot]) -> None:
        """Keep the command's interaction: a fallback route while its token lives."""
        self._interactions[job_id] = interaction

    def _live_interaction(self, job_id: int) -> discord.Interaction[EmoBot] | None:
        interaction = self._interactions.get(job_id)
        if interaction is None or interaction.is_expired():
            self._interactions.pop(job_id, None)
            return None
        return interaction

    async def job_changed(self, job: Job) -> None:
        self._cards.changed(job)
        if job.state is JobState.SUBMITTING or job.state.is_terminal:
            self._cards.refresh_queue(job.guild_id)
        if job.state.is_terminal:
            self._interactions.pop(job.id, None)

    def _channel(self, job: Job) -> discord.PartialMessageable:
        return self._bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)

    def _upload_limit(self, job: Job) -> int:
        """The tighter of the limit Discord gave with the command and the server's current one."""
        guild = self._bot.get_guild(job.guild_id) if job.guild_id else None
        limit = job.upload_limit_bytes
        if guild is not None:
            limit = min(guild.filesize_limit, limit)
        return min(limit, DM_UPLOAD_LIMIT) if job.deliver_dm else limit

    # -- results ---------------------------------------------------------------------------

    async def deliver_result(self, job: Job, video: Path) -> int:
        """Post the MP4; over the upload limit, a re-encoded one that fits; failing that, a
        link with the reason. Where the bot may not post: the interaction, else a DM."""
        who: dict[str, Param] = {"mention": f"<@{job.user_id}>", "job": job.id}
        seconds = round(job.video_seconds or 0, 1)
        limit = self._upload_limit(job)
        limit_mb = round(limit / 1024 / 1024, 1)
        size = (await asyncio.to_thread(video.stat)).st_size
        key = MessageKey.RESULT
        params: dict[str, Param] = {**who, "seconds": seconds}
        if size > limit:
            fitted = video.with_name("result-fitted.mp4")
            if await asyncio.to_thread(fit_video, video, fitted, limit):
                video, key = fitted, MessageKey.RESULT_SHRUNK
                params["limit_mb"] = limit_mb
        if (await asyncio.to_thread(video.stat)).st_size <= limit:
            try:
                return await self._post_result(job, UserMessage(key=key, params=params), video)
            except UploadTooLargeError:
                log.info("job %d: video over the channel's upload limit, posting a link", job.id)
        link = UserMessage(
            key=MessageKey.RESULT_TOO_LARGE,
            params={
                **who,
                "size_mb": round(size / 1024 / 1024, 1),
                "limit_mb": limit_mb,
                "url": job.result_url or "",
            },
        )
        return await self._post_result(job, link, None)

    async def _post_result(self, job: Job, message: UserMessage, video: Path | None) -> int:
        if job.deliver_dm:
            try:
                return await self._send_dm(job, message, video)
            except discord.Forbidden as error:
                if error.code != CANNOT_MESSAGE_USER:
                    raise DeliveryError(f"forbidden ({error.code})", permanent=True) from None
                log.info("job %d: the member's DMs are closed, posting in the channel", job.id)
                message = UserMessage(key=MessageKey.RESULT_DMS_CLOSED, params=message.params)
        try:
            return await self._send(job, render(message, job.locale), video)
        except DeliveryError as error:
            if not error.permanent or isinstance(error, UploadTooLargeError):
                raise
            # The bot may not post in the channel: the command's reply while its token
            # lives, else a direct message.
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
        reply = _reply_to_card(job)
        file, view = self._file(job, video), retry_view(job)
        try:
            if file is None:
                message = await channel.send(
                    text,
                    nonce=job.delivery_nonce,
                    view=view,
                    **reply,
                )
            else:
                message = await channel.send(
                    text,
                    file=file,
                    nonce=job.delivery_nonce,
                    view=view,
                    **reply,
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
        text = render(UserMessage(key=key, params=params), job.locale)
        file = self._file(job, video)
        if file is None:
            sent = await user.send(text, nonce=job.delivery_nonce, view=retry_view(job))
        else:
            sent = await user.send(text, file=file, nonce=job.delivery_nonce, view=retry_view(job))
        log.info("job %d: delivered by direct message", job.id)
        return sent.id

    async def _send_interaction(
        self, job: Job, message: UserMessage, video: Path | None
    ) -> int | None:
        interaction = self._live_interaction(job.id)
        if interaction is None:
            return None
        file = self._file(job, video)
        text = render(message, job.locale)
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

    async def find_delivery(self, job: Job) -> int | None:
        """Look for a result of ``job`` posted before a crash (channel, then DM)."""
        bot_user = self._bot.user
        if bot_user is None:
            return None
        marker = re.compile(rf"#{job.id}\b")
        after = discord.Object(id=discord.utils.time_snowflake(job.created_at))
        places: list[discord.abc.Messageable] = [self._channel(job)]
        user = self._bot.get_user(job.user_id) if job.deliver_dm else None
        if user is not None:
            places.insert(0, user)
        for place in places:
            try:
                async for message in place.history(limit=200, after=after):
                    ours = message.author.id == bot_user.id and marker.search(message.content)
                    posted = message.attachments or "http" in message.content
                    if ours and posted and message.id != job.card_message_id:
                        return message.id
            except discord.HTTPException as error:
                log.warning("job %d: could not read a history (%s)", job.id, error.status)
        return None

    async def operator_alert(self, text: str, *, guild_id: int | None = None) -> None:
        """To the bot-wide alert channel, and to the server's own when it set one."""
        server = await self._bot.core.guilds.settings.get(guild_id) if guild_id else None
        wanted = (self._bot.settings.emo_alert_channel_id, server and server.alert_channel_id)
        for channel_id in {channel for channel in wanted if channel}:
            try:
                await self._bot.get_partial_messageable(channel_id).send(f"⚠️ {text}")
            except discord.HTTPException as error:
                log.warning("could not post the operator alert (%s)", error.status)

    async def report_failure(self, job: Job, message: UserMessage) -> None:
        """The card shows the failure; a reply to it mentions the member so they hear of it."""
        params = {"mention": f"<@{job.user_id}>", "job": job.id, **message.params}
        text = render(UserMessage(key=message.key, params=params), job.locale)
        if f"<@{job.user_id}>" not in text:
            text = f"<@{job.user_id}> {text}"
        reply = _reply_to_card(job)
        view = retry_view(job) if can_retry(job) else discord.utils.MISSING
        try:
            sent = await self._channel(job).send(
                text,
                nonce=f"emo-fail-{job.id}",
                view=view,
                **reply,
            )
        except discord.HTTPException as error:
            log.warning("job %d: could not report its failure (%s)", job.id, error.status)
            return
        await self._bot.core.store.set_notice(job.id, sent.id)
