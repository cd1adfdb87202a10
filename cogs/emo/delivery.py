"""Shows progress and posts results on Discord for the core's jobs (the JobNotifier)."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import discord

from bot.jobs.models import Job
from bot.jobs.notifier import DeliveryError
from bot.jobs.states import JobState
from bot.media.video import fit_video
from bot.messages import MessageKey, UserMessage, render
from bot.wiring import EmoBot

log = logging.getLogger(__name__)

REQUEST_ENTITY_TOO_LARGE = 40005


class UploadTooLargeError(DeliveryError):
    """Discord refused the file as larger than the channel's upload limit."""

    def __init__(self) -> None:
        super().__init__("file over the upload limit", permanent=True)


class DiscordNotifier:
    """Progress goes to the invoker's ephemeral reply while its token lives; results and
    failures are the bot's own channel messages, so they arrive however late."""

    def __init__(self, bot: EmoBot) -> None:
        self._bot = bot
        self._interactions: dict[int, discord.Interaction] = {}

    def track(self, job_id: int, interaction: discord.Interaction) -> None:
        self._interactions[job_id] = interaction

    async def edit_progress(self, job_id: int, text: str) -> bool:
        """Edit the invoker's private reply; False when there is none left to edit."""
        interaction = self._interactions.get(job_id)
        if interaction is None or interaction.is_expired():
            self._interactions.pop(job_id, None)
            return False
        try:
            await interaction.edit_original_response(content=text)
        except discord.HTTPException as error:
            # Typically 50027 once the 15-minute token is gone: the channel takes over.
            log.info("job %d: progress edit refused (%s)", job_id, error.code)
            self._interactions.pop(job_id, None)
            return False
        return True

    async def job_changed(self, job: Job) -> None:
        if job.state is JobState.SUBMITTED:
            text = render(UserMessage(key=MessageKey.RENDERING, params={"job": job.id}), job.locale)
            await self.edit_progress(job.id, text)
        elif job.state.is_terminal:
            self._interactions.pop(job.id, None)

    def _channel(self, job: Job) -> discord.PartialMessageable:
        return self._bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)

    def _upload_limit(self, job: Job) -> int:
        """The tighter of the limit Discord gave with the command and the server's current one."""
        guild = self._bot.get_guild(job.guild_id) if job.guild_id else None
        if guild is None:
            return job.upload_limit_bytes
        return min(guild.filesize_limit, job.upload_limit_bytes)

    async def deliver_result(self, job: Job, video: Path) -> int:
        """Post the MP4; over the channel's limit, a re-encoded one that fits; failing
        that, a link with the reason."""
        who = {"mention": f"<@{job.user_id}>", "job": job.id}
        seconds = round(job.video_seconds or 0, 1)
        limit = self._upload_limit(job)
        limit_mb = round(limit / 1024 / 1024, 1)
        size = (await asyncio.to_thread(video.stat)).st_size
        result = UserMessage(key=MessageKey.RESULT, params={**who, "seconds": seconds})
        if size > limit:
            fitted = video.with_name("result-fitted.mp4")
            if await asyncio.to_thread(fit_video, video, fitted, limit):
                video = fitted
                result = UserMessage(
                    key=MessageKey.RESULT_SHRUNK,
                    params={**who, "seconds": seconds, "limit_mb": limit_mb},
                )
        if (await asyncio.to_thread(video.stat)).st_size <= limit:
            upload = discord.File(video, filename=f"emo-{job.id}.mp4")
            try:
                return await self._send(job, render(result, job.locale), upload)
            except UploadTooLargeError:
                log.info("job %d: video over the channel's upload limit, posting a link", job.id)
        text = render(
            UserMessage(
                key=MessageKey.RESULT_TOO_LARGE,
                params={
                    **who,
                    "size_mb": round(size / 1024 / 1024, 1),
                    "limit_mb": limit_mb,
                    "url": job.result_url or "",
                },
            ),
            job.locale,
        )
        return await self._send(job, text, None)

    async def _send(self, job: Job, text: str, file: discord.File | None) -> int:
        channel = self._channel(job)
        try:
            if file is None:
                message = await channel.send(text, nonce=job.delivery_nonce)
            else:
                message = await channel.send(text, file=file, nonce=job.delivery_nonce)
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
        return message.id

    async def find_delivery(self, job: Job) -> int | None:
        """Look through the channel for a result of ``job`` posted before a crash."""
        bot_user = self._bot.user
        if bot_user is None:
            return None
        marker = re.compile(rf"#{job.id}\b")
        after = discord.Object(id=discord.utils.time_snowflake(job.created_at))
        try:
            async for message in self._channel(job).history(limit=200, after=after):
                ours = message.author.id == bot_user.id and marker.search(message.content)
                if ours and (message.attachments or "http" in message.content):
                    return message.id
        except discord.HTTPException as error:
            log.warning("job %d: could not read the channel's history (%s)", job.id, error.status)
        return None

    async def operator_alert(self, text: str) -> None:
        channel_id = self._bot.settings.emo_alert_channel_id
        if channel_id is None:
            return  # the log line written by the core is the alert
        try:
            await self._bot.get_partial_messageable(channel_id).send(f"⚠️ {text}")
        except discord.HTTPException as error:
            log.warning("could not post the operator alert (%s)", error.status)

    async def report_failure(self, job: Job, message: UserMessage) -> None:
        text = render(message, job.locale)
        if await self.edit_progress(job.id, text):
            return
        # The private reply is gone (token expired or bot restarted): say it in the channel.
        params = {"mention": f"<@{job.user_id}>", **message.params}
        text = render(UserMessage(key=message.key, params=params), job.locale)
        if "{mention}" not in text and f"<@{job.user_id}>" not in text:
            text = f"<@{job.user_id}> {text}"
        try:
            await self._channel(job).send(text, nonce=f"emo-fail-{job.id}")
        except discord.HTTPException as error:
            log.warning("job %d: could not report its failure (%s)", job.id, error.status)
