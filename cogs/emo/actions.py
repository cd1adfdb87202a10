"""What members do to jobs from Discord: start, cancel, retry (by button or by 🔁)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord

from bot.errors import UserFacingError
from bot.jobs.models import AnimateRequest, Framing, InputRef, Job, Style
from bot.jobs.service import Accepted, CancelOutcome, RetryForbiddenError
from bot.messages import MessageKey, UserMessage, choose_locale, render
from bot.wiring import EmoBot, report_interaction_error
from cogs.emo.card import CardKeeper, message_link
from cogs.emo.delivery import RETRY_EMOJI, DiscordNotifier

log = logging.getLogger(__name__)

CARD_WAIT_SECONDS = 5.0
REFUSAL_LIFETIME = 120.0  # a refusal answering a reaction is deleted after this long

_CANCEL_KEYS = {
    CancelOutcome.REMOVED: MessageKey.CANCEL_REMOVED,
    CancelOutcome.CANCELED: MessageKey.CANCEL_AT_PROVIDER,
    CancelOutcome.RUNNING: MessageKey.CANCEL_RUNNING,
    CancelOutcome.FINISHED: MessageKey.CANCEL_FINISHED,
    CancelOutcome.FORBIDDEN: MessageKey.CANCEL_FORBIDDEN,
    CancelOutcome.NOT_FOUND: MessageKey.JOB_NOT_FOUND,
}


def interaction_locale(interaction: discord.Interaction[Any]) -> str:
    guild_locale = str(interaction.guild_locale) if interaction.guild_locale else None
    return choose_locale(str(interaction.locale), guild_locale)


def manages_server(interaction: discord.Interaction[EmoBot]) -> bool:
    return interaction.permissions.manage_guild


class JobActions:
    """Parses nothing and decides nothing: calls the service and words its answers."""

    def __init__(self, bot: EmoBot, cards: CardKeeper, notifier: DiscordNotifier) -> None:
        self._bot = bot
        self._service = bot.core.service
        self._store = bot.core.store
        self._cards = cards
        self._notifier = notifier
        self._busy: set[asyncio.Task[object]] = set()

    @contextlib.asynccontextmanager
    async def tracked(self) -> AsyncIterator[None]:
        """Mark the running handler so an unload can tell it to stop."""
        task = asyncio.current_task()
        if task is not None:
            self._busy.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._busy.discard(task)

    async def stop(self) -> None:
        pending = [task for task in self._busy if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=3.0)

    # -- start ---------------------------------------------------------------------------

    async def build_request(
        self,
        interaction: discord.Interaction[EmoBot],
        *,
        image: InputRef,
        audio: InputRef,
        style: Style | None = None,
        framing: Framing | None = None,
        trim: bool = False,
        dm: bool = False,
    ) -> AnimateRequest:
        """The request, with the server's settings: its output channel, its defaults, and
        whether it lets results go by direct message."""
        assert interaction.channel_id is not None
        server = await self._bot.core.guilds.settings.get(interaction.guild_id)
        if dm and not server.dm_delivery:
            raise UserFacingError(MessageKey.DM_NOT_ALLOWED)
        return AnimateRequest(
            guild_id=interaction.guild_id,
            channel_id=server.output_channel_id or interaction.channel_id,
            user_id=interaction.user.id,
            locale=interaction_locale(interaction),
            image=image,
            audio=audio,
            style=style or server.default_style,
            framing=framing or server.default_framing,
            trim=trim,
            upload_limit_bytes=interaction.filesize_limit,
            deliver_dm=dm,
        )

    async def start(
        self, interaction: discord.Interaction[EmoBot], request: AnimateRequest
    ) -> None:
        """Run a request for a deferred interaction and answer it privately."""
        locale = request.locale
        await interaction.edit_original_response(
            content=render(UserMessage(key=MessageKey.CHECKING), locale)
        )
        async with self.tracked():
            try:
                accepted = await self._service.request(request)
            except asyncio.CancelledError:
                # Shutting down mid-request: say so rather than leave "thinking…" spinning.
                # The row (if written) is resumed on the next start.
                restarting = render(UserMessage(key=MessageKey.RESTARTING), locale)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        interaction.edit_original_response(content=restarting), 2.0
                    )
                raise
        self._notifier.track(accepted.job.id, interaction)
        await interaction.edit_original_response(content=await self.accepted_text(accepted))

    async def accepted_text(self, accepted: Accepted) -> str:
        job = await self._cards.wait_for_card(accepted.job.id, CARD_WAIT_SECONDS)
        link = (
            message_link(job.guild_id, job.channel_id, job.card_message_id)
            if job.card_message_id
            else ""
        )
        key = MessageKey.PROVIDER_PAUSED if accepted.paused else MessageKey.QUEUED
        params = {"job": job.id, "ahead": accepted.ahead, "link": link}
        return render(UserMessage(key=key, params=params), job.locale)

    # -- cancel --------------------------------------------------------------------------

    async def cancel_from_interaction(
        self, interaction: discord.Interaction[EmoBot], job_id: int
    ) -> None:
        locale = interaction_locale(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            outcome, job = await self._service.cancel(
                job_id,
                guild_id=interaction.guild_id,
                actor_id=interaction.user.id,
                actor_manages_server=manages_server(interaction),
            )
            text = render(UserMessage(key=_CANCEL_KEYS[outcome], params={"job": job_id}), locale)
            if job is not None:
                self._cards.show(job)
            await interaction.edit_original_response(content=text)
        except Exception as error:
            await report_interaction_error(interaction, error)

    # -- retry ---------------------------------------------------------------------------

    async def retry_from_interaction(
        self, interaction: discord.Interaction[EmoBot], job_id: int
    ) -> None:
        locale = interaction_locale(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            async with self.tracked():
                accepted = await self._service.retry(
                    job_id,
                    actor_id=interaction.user.id,
                    actor_manages_server=manages_server(interaction),
                )
        except RetryForbiddenError:
            text = render(
                UserMessage(key=MessageKey.RETRY_FORBIDDEN, params={"job": job_id}), locale
            )
            await interaction.edit_original_response(content=text)
            return
        except Exception as error:
            await report_interaction_error(interaction, error)
            return
        started = UserMessage(
            key=MessageKey.RETRY_STARTED, params={"job": job_id, "new": accepted.job.id}
        )
        text = render(started, locale) + "\n" + await self.accepted_text(accepted)
        await interaction.edit_original_response(content=text)

    async def retry_from_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        """🔁 on a card, a result or a failure notice. Strangers and repeats change nothing."""
        bot_user = self._bot.user
        if str(payload.emoji) != RETRY_EMOJI or payload.guild_id is None:
            return
        if bot_user is None or payload.user_id == bot_user.id:
            return  # Discord echoes the bot's own 🔁
        job = await self._store.job_for_message(payload.message_id)
        if job is None or job.guild_id != payload.guild_id:
            return
        member = payload.member
        manages = member is not None and member.guild_permissions.manage_guild
        if payload.user_id != job.user_id and not manages:
            log.info("job %d: 🔁 by %d ignored (not theirs)", job.id, payload.user_id)
            return
        try:
            async with self.tracked():
                accepted = await self._service.retry(
                    job.id, actor_id=payload.user_id, actor_manages_server=manages
                )
        except RetryForbiddenError:
            return
        except UserFacingError as refusal:
            if refusal.message.key is MessageKey.RETRY_PENDING:
                log.info("job %d: 🔁 ignored, a retry is already on its way", job.id)
                return
            await self._refuse_reaction(payload, job, refusal.message)
            return
        log.info("job %d: retried as job %d by 🔁", job.id, accepted.job.id)

    async def _refuse_reaction(
        self, payload: discord.RawReactionActionEvent, job: Job, message: UserMessage
    ) -> None:
        # A reaction has no private reply: answer in the channel, briefly.
        text = f"<@{payload.user_id}> " + render(message, job.locale)
        channel = self._bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        reference = discord.MessageReference(
            message_id=payload.message_id, channel_id=payload.channel_id, fail_if_not_exists=False
        )
        try:
            await channel.send(text, reference=reference, delete_after=REFUSAL_LIFETIME)
        except discord.HTTPException as error:
            log.info("job %d: could not answer the 🔁 (%s)", job.id, error.status)
