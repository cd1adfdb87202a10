"""What the core tells members and operators, posted on Discord: a failure notice replying
to the job's card, and operator alerts in the alert channels."""

from __future__ import annotations

import logging

import discord

from bot.cards.lines import can_reframe, can_retry
from bot.cards.repository import CardRepository
from bot.jobs.events import JobEvent, OperatorAlert
from bot.wiring import EmoBot
from cogs.emo.buttons import JobButtons
from cogs.emo.delivery import reply_to_card
from cogs.emo.interactions import LiveInteractions
from cogs.shared.markup import say

log = logging.getLogger(__name__)


class DiscordNotices:
    """Listens to the core: failure notices for members, alerts for operators."""

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

    async def job_changed(self, event: JobEvent) -> None:
        job = event.after
        if job.state.is_terminal:
            self._interactions.forget(job.id)
        if event.notice is None:
            return
        # The card shows the failure; a reply to it mentions the member so they hear of it.
        text = say(event.notice, job.locale)
        mention = f"<@{job.user_id}>"
        if mention not in text:
            text = f"{mention} {text}"
        reply = await reply_to_card(self._cards, job)
        view = (
            self._buttons.view(job.id, job.locale, retry=can_retry(job), reframe=can_reframe(job))
            if can_retry(job) or can_reframe(job)
            else discord.utils.MISSING
        )
        channel = self._bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        try:
            sent = await channel.send(text, nonce=f"emo-fail-{job.id}", view=view, **reply)
        except discord.HTTPException as error:
            log.warning("job %d: could not report its failure (%s)", job.id, error.status)
            return
        await self._cards.notice(job.id, sent.id)

    async def alert(self, alert: OperatorAlert) -> None:
        """To the bot-wide alert channel (unless it is the server's own concern: its own
        provider key), and to the server's own when it set one."""
        settings = self._bot.core.guilds.settings
        server = await settings.get(alert.guild_id) if alert.guild_id else None
        operator = self._bot.settings.emo_alert_channel_id if alert.operator else None
        wanted = (operator, server and server.alert_channel_id)
        text = f"⚠️ {say(alert.message, 'en')}"
        if not alert.operator and not (server and server.alert_channel_id):
            # The server's own concern, and it set no alert channel: its admins see it in
            # `/emo-admin provider-key status`, and its members' notices point there.
            log.info("server %s has no alert channel for its own key's alert", alert.guild_id)
        for channel_id in {channel for channel in wanted if channel}:
            try:
                await self._bot.get_partial_messageable(channel_id).send(text)
            except discord.HTTPException as error:
                log.warning("could not post the operator alert (%s)", error.status)
