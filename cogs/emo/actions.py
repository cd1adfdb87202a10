"""What members do to jobs from Discord: start, cancel, retry (by button or by 🔁)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import discord

from bot.cards.keeper import CardKeeper
from bot.errors import UserFacingError
from bot.jobs.cancel import CancelOutcome
from bot.jobs.intake import Accepted, RetryForbiddenError
from bot.jobs.models import AnimateRequest, Framing, InputRef, Style
from bot.jobs.states import JobState
from bot.messages import MessageKey, UserMessage
from bot.wiring import EmoBot, report_interaction_error
from cogs.emo.delivery import RETRY_EMOJI
from cogs.emo.interactions import LiveInteractions
from cogs.emo.throttle import RefusalThrottle
from cogs.shared.locale import interaction_locale, manages_server
from cogs.shared.markup import message_link, say

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


class JobActions:
    """Parses nothing and decides nothing: calls the service and words its answers."""

    def __init__(self, bot: EmoBot, cards: CardKeeper, interactions: LiveInteractions) -> None:
        self._bot = bot
        self._core = bot.core
        self._service = bot.core.service
        self._cards = cards
        self._interactions = interactions
        self._busy: set[asyncio.Task[object]] = set()
        self._refusals = RefusalThrottle()

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
        confirm: bool = False,
    ) -> AnimateRequest:
        """The request, with the server's settings: its output channel, its defaults,
        whether it lets results go by direct message, and whether every job waits for a
        Confirm (a member may ask for that on their own)."""
        assert interaction.channel_id is not None
        server = await self._core.guilds.settings.get(interaction.guild_id)
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
            confirm_first=confirm or server.confirm_before_spending,
        )

    async def start(
        self, interaction: discord.Interaction[EmoBot], request: AnimateRequest
    ) -> None:
        """Run a request for a deferred interaction and answer it privately."""
        locale = request.locale
        await interaction.edit_original_response(
            content=say(UserMessage(key=MessageKey.CHECKING), locale)
        )
        async with self.tracked():
            try:
                accepted = await self._service.request(request)
            except asyncio.CancelledError:
                # Shutting down mid-request: say so rather than leave "thinking…" spinning.
                # The row (if written) is resumed on the next start.
                restarting = say(UserMessage(key=MessageKey.RESTARTING), locale)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        interaction.edit_original_response(content=restarting), 2.0
                    )
                raise
        self._interactions.track(accepted.job.id, interaction)
        await interaction.edit_original_response(content=await self.accepted_text(accepted))

    async def accepted_text(self, accepted: Accepted) -> str:
        job = accepted.job
        card = await self._cards.wait_for_card(job.id, CARD_WAIT_SECONDS)
        link = (
            message_link(job.guild_id, job.channel_id, card.message_id)
            if card is not None and card.message_id
            else ""
        )
        key = MessageKey.PROVIDER_PAUSED if accepted.paused else MessageKey.QUEUED
        if job.state is JobState.AWAITING_CONFIRMATION:
            key = MessageKey.AWAITING_CONFIRMATION
        params = {"job": job.id, "ahead": accepted.ahead, "link": link}
        return say(UserMessage(key=key, params=params), job.locale)

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
            text = say(UserMessage(key=_CANCEL_KEYS[outcome], params={"job": job_id}), locale)
            if job is not None:
                self._cards.show(job.id)
            await interaction.edit_original_response(content=text)
        except Exception as error:
            await report_interaction_error(interaction, error)

    # -- retry ---------------------------------------------------------------------------

    async def retry_from_interaction(
        self, interaction: discord.Interaction[EmoBot], job_id: int
    ) -> None:
        """A Retry button: it must sit on one of the job's own messages (a crafted custom id
        on another message, or in another server, finds nothing)."""
        locale = interaction_locale(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            message = interaction.message
            shown_on = await self._core.cards.job_for_message(message.id) if message else None
            if shown_on != job_id:
                log.warning("job %d: Retry button on a message not its own refused", job_id)
                raise UserFacingError(MessageKey.JOB_NOT_FOUND, job=job_id)
            # In a direct message (a result sent by DM) the job's own server is the scope.
            guild_id = interaction.guild_id
            if guild_id is None:
                guild_id = (await self._core.jobs.get(job_id)).guild_id
            async with self.tracked():
                accepted = await self._service.retry(
                    job_id,
                    guild_id=guild_id,
                    actor_id=interaction.user.id,
                    actor_manages_server=manages_server(interaction),
                )
        except RetryForbiddenError:
            text = say(UserMessage(key=MessageKey.RETRY_FORBIDDEN, params={"job": job_id}), locale)
            await interaction.edit_original_response(content=text)
            return
        except Exception as error:
            await report_interaction_error(interaction, error)
            return
        started = UserMessage(
            key=MessageKey.RETRY_STARTED, params={"job": job_id, "new": accepted.job.id}
        )
        text = say(started, locale) + "\n" + await self.accepted_text(accepted)
        await interaction.edit_original_response(content=text)

    async def retry_from_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        """🔁 on a card, a result or a failure notice. Strangers and repeats change nothing."""
        bot_user = self._bot.user
        if str(payload.emoji) != RETRY_EMOJI or payload.guild_id is None:
            return
        if bot_user is None or payload.user_id == bot_user.id:
            return  # Discord echoes the bot's own 🔁
        job_id = await self._core.cards.job_for_message(payload.message_id)
        if job_id is None:
            return
        locale = (await self._core.jobs.get(job_id)).locale
        member = payload.member
        manages = member is not None and member.guild_permissions.manage_guild
        try:
            async with self.tracked():
                accepted = await self._service.retry(
                    job_id,
                    guild_id=payload.guild_id,
                    actor_id=payload.user_id,
                    actor_manages_server=manages,
                )
        except RetryForbiddenError:
            log.info("job %d: 🔁 by %d ignored (not theirs)", job_id, payload.user_id)
            return
        except UserFacingError as refusal:
            if refusal.message.key in (MessageKey.RETRY_PENDING, MessageKey.JOB_NOT_FOUND):
                log.info("job %d: 🔁 ignored (%s)", job_id, refusal.message.key.value)
                return
            await self._refuse_reaction(payload, refusal.message, locale)
            return
        log.info("job %d: retried as job %d by 🔁", job_id, accepted.job.id)

    async def _refuse_reaction(
        self, payload: discord.RawReactionActionEvent, message: UserMessage, locale: str
    ) -> None:
        # A reaction has no private reply: answer in the channel, briefly, and once a minute.
        if not self._refusals.allow(payload.user_id):
            log.info(
                "🔁 by %d on message %d refused (%s), not answered: answered within the minute",
                payload.user_id,
                payload.message_id,
                message.key.value,
            )
            return
        text = f"<@{payload.user_id}> " + say(message, locale)
        channel = self._bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        reference = discord.MessageReference(
            message_id=payload.message_id, channel_id=payload.channel_id, fail_if_not_exists=False
        )
        try:
            await channel.send(text, reference=reference, delete_after=REFUSAL_LIFETIME)
        except discord.HTTPException as error:
            log.info("job %d: could not answer the 🔁 (%s)", payload.message_id, error.status)
