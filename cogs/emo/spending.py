"""The buttons that decide what is spent: Confirm on a card waiting for it, and a half-body
refusal's one-click retry at 1:1 from the same inputs. Both answer privately, and both must
sit on one of their job's own messages (a crafted custom id elsewhere finds nothing)."""

from __future__ import annotations

import logging

import discord

from bot.errors import UserFacingError
from bot.jobs.confirmation import ConfirmOutcome
from bot.jobs.intake import RetryForbiddenError
from bot.jobs.models import Framing
from bot.messages import MessageKey, UserMessage
from bot.wiring import EmoBot, report_interaction_error
from cogs.emo.actions import JobActions
from cogs.shared.locale import interaction_locale, manages_server
from cogs.shared.markup import say

log = logging.getLogger(__name__)

_CONFIRM_KEYS = {
    ConfirmOutcome.CONFIRMED: MessageKey.CONFIRMED,
    ConfirmOutcome.ALREADY: MessageKey.CONFIRM_ALREADY,
    ConfirmOutcome.ENDED: MessageKey.CONFIRM_ENDED,
    ConfirmOutcome.FORBIDDEN: MessageKey.CONFIRM_FORBIDDEN,
    ConfirmOutcome.NOT_FOUND: MessageKey.JOB_NOT_FOUND,
}


class SpendingButtons:
    """Calls the service and words its answers (the ``SpendingActions`` of the buttons)."""

    def __init__(self, bot: EmoBot, actions: JobActions) -> None:
        self._core = bot.core
        self._service = bot.core.service
        self._actions = actions

    async def _own_message(self, interaction: discord.Interaction[EmoBot], job_id: int) -> None:
        message = interaction.message
        shown_on = await self._core.cards.job_for_message(message.id) if message else None
        if shown_on != job_id:
            log.warning("job %d: a button on a message not its own refused", job_id)
            raise UserFacingError(MessageKey.JOB_NOT_FOUND, job=job_id)

    async def confirm_from_interaction(
        self, interaction: discord.Interaction[EmoBot], job_id: int
    ) -> None:
        """Confirm: the requester or a server manager queues the job; anyone else is told
        privately that it is not theirs."""
        locale = interaction_locale(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await self._own_message(interaction, job_id)
            async with self._actions.tracked():
                outcome, job = await self._service.confirm(
                    job_id,
                    guild_id=interaction.guild_id,
                    actor_id=interaction.user.id,
                    actor_manages_server=manages_server(interaction),
                )
                ahead = await self._service.ahead_of(job) if job is not None else 0
        except Exception as error:
            await report_interaction_error(interaction, error)
            return
        if job is not None:
            self._core.card_keeper.show(job.id)
        params = {"job": job_id, "ahead": ahead}
        text = say(UserMessage(key=_CONFIRM_KEYS[outcome], params=params), locale)
        await interaction.edit_original_response(content=text)

    async def reframe_from_interaction(
        self, interaction: discord.Interaction[EmoBot], job_id: int
    ) -> None:
        """The same photo and recording again, framed at the head (1:1): a retry, so the
        same people may ask for it, and nothing is uploaded again."""
        locale = interaction_locale(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await self._own_message(interaction, job_id)
            async with self._actions.tracked():
                accepted = await self._service.retry(
                    job_id,
                    guild_id=interaction.guild_id,
                    actor_id=interaction.user.id,
                    actor_manages_server=manages_server(interaction),
                    framing=Framing.HEAD,
                )
        except RetryForbiddenError:
            text = say(UserMessage(key=MessageKey.RETRY_FORBIDDEN, params={"job": job_id}), locale)
            await interaction.edit_original_response(content=text)
            return
        except Exception as error:
            await report_interaction_error(interaction, error)
            return
        started = UserMessage(
            key=MessageKey.REFRAME_STARTED, params={"job": job_id, "new": accepted.job.id}
        )
        text = say(started, locale) + "\n" + await self._actions.accepted_text(accepted)
        await interaction.edit_original_response(content=text)
